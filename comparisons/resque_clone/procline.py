"""The process title: `ps` shows what each worker is doing, as Resque's $0 does.

    resque-2.7.0: Waiting for critical,*
    resque-2.7.0: Processing default since 1764284000 [Archive]
    resque-2.7.0: Forked 4242 at 1764284000

It uses the setproctitle package (so `ps` and /proc/<pid>/cmdline show it) when installed;
otherwise it writes the 15-byte kernel name (/proc/self/comm) with prctl(PR_SET_NAME). Pruning
recognises live workers on this host by this title.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable

from comparisons.resque_clone.keys import VERSION

PR_SET_NAME = 15
PREFIX_ENV = "RESQUE_PROCLINE_PREFIX"

_setproctitle: Callable[[str], None] | None
try:
    from setproctitle import setproctitle as _setproctitle

    METHOD = "setproctitle"
except ImportError:  # pragma: no cover - depends on the environment
    _setproctitle = None
    METHOD = "prctl"

_current = ""
MAX_TEXT = 200  # characters of the text after the prefix
# read once: the title is set twice per job, and a lookup of a missing environment variable
# raises and catches a KeyError, touching pages a forking worker then has to copy
_prefix = f"{os.environ.get(PREFIX_ENV, '')}resque-{VERSION}: "


def set_title(text: str) -> str:
    """Set `<prefix>resque-<version>: <text>` (the prefix from RESQUE_PROCLINE_PREFIX at start);
    return the full title."""
    global _current
    title = _prefix + _printable(text)
    if _setproctitle is not None:
        _setproctitle(title)
    else:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(PR_SET_NAME, ctypes.c_char_p(title.encode()[:15]), 0, 0, 0)
    _current = title
    return title


def _printable(text: str) -> str:
    """What a title can hold: a job's class name comes from the payload, so a NUL (which the
    kernel and setproctitle refuse), control characters or a megabyte of name are escaped and cut."""
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + "..."
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
                   for c in text)


def current() -> str:
    return _current
