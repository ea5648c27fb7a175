"""Hooks: how plugins (like the retry plugin) change a job's life without touching the worker.

Job hooks are class methods found by name prefix and run in name order, as in Resque:
before_perform* (raise DontPerform to skip the job), around_perform* (generators that yield once,
nested, the last one wrapping perform), after_perform* (not run when the job failed),
on_failure*(exc, *args) (raise DontFail for no failure record), before_enqueue* / before_dequeue* (return False to cancel),
after_enqueue* / after_dequeue*.

Worker hooks are plain functions registered per process: before_first_fork (once, in the
parent: preload your app here), before_fork(job) (parent, before each fork), after_fork(job)
(child, after it reconnected), before_pause(worker) / after_pause(worker).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable
from typing import Any

WORKER_HOOKS = ("before_first_fork", "before_fork", "after_fork", "before_pause", "after_pause")
_worker_hooks: dict[str, list[Callable[..., Any]]] = {name: [] for name in WORKER_HOOKS}


class DontPerform(Exception):  # noqa: N818 - Resque's name
    """Raised by a before_perform hook: skip this job quietly (not a failure)."""


class DontFail(Exception):  # noqa: N818 - Resque's name
    """Raised by an on_failure hook: the hook dealt with the failure, so no failure record is
    written (the failed counter still counts it, as in Resque)."""


JOB_HOOK_KINDS = ("before_perform", "around_perform", "after_perform", "on_failure")


@functools.cache
def job_hooks(cls: type, prefix: str) -> tuple[Callable[..., Any], ...]:
    """The class's methods whose names start with `prefix`, sorted by name. Looked up once per
    class and kind: hooks are part of a class's definition (restart the worker after changing
    job code, as for any job code)."""
    return tuple(getattr(cls, name) for name in sorted(dir(cls))
                 if name.startswith(prefix) and callable(getattr(cls, name)))


def warm(cls: type) -> None:
    """Look up the perform hooks of `cls` now. The worker calls it before each fork, so the
    child finds them cached instead of scanning the class (and copying the pages it touches)."""
    for kind in JOB_HOOK_KINDS:
        job_hooks(cls, kind)


def run_around(cls: type, args: list[Any], perform: Callable[[], Any]) -> Any:
    """Nest the around_perform* hooks (generators that yield once) around perform."""
    hooks = job_hooks(cls, "around_perform")
    if not hooks:
        return perform()  # the common case, without an ExitStack to set up in each child
    with contextlib.ExitStack() as stack:
        for hook in hooks:
            stack.enter_context(contextlib.contextmanager(hook)(*args))
        return perform()


def worker_hook(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a worker hook: @worker_hook("before_fork") def f(job): ..."""
    if name not in _worker_hooks:
        raise ValueError(f"unknown worker hook {name!r}; valid: {', '.join(WORKER_HOOKS)}")

    def add(fn: Callable[..., Any]) -> Callable[..., Any]:
        _worker_hooks[name].append(fn)
        return fn

    return add


def run_worker_hooks(name: str, *args: Any) -> None:
    for fn in _worker_hooks[name]:
        fn(*args)

