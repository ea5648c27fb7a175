"""Several workers from one command, as `rake resque:workers COUNT=3` starts them.

    python -m comparisons.resque_clone workers --count 3 --queue '*' -r myapp.jobs

Each worker is its own `work` process with the same settings (Resque runs one job at a time per
worker, so COUNT is the concurrency). This process only starts them, passes on every signal a
worker understands (QUIT, TERM, INT, USR1, USR2, CONT: see worker.py) and waits for them all.
Its exit status is 0 when every worker exited 0, else 1. The workers die with it if it is
killed, so none is left behind.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Mapping
from typing import Any

from comparisons.resque_clone import procline
from core import procs

FORWARDED = (signal.SIGQUIT, signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGCONT)


def run(count: int, work_argv: list[str], env: dict[str, str] | None = None) -> int:
    """Start `count` workers (`work` + work_argv), forward signals, wait; 0 if all exited 0."""
    argv = [sys.executable, "-m", "comparisons.resque_clone", "work", *work_argv]
    workers: list[subprocess.Popen[Any]] = []

    def forward(signum: int, frame: Any) -> None:
        for proc in workers:
            if proc.poll() is None:
                try:
                    proc.send_signal(signum)
                except ProcessLookupError:
                    pass

    for sig in FORWARDED:
        signal.signal(sig, forward)
    workers.extend(
        subprocess.Popen(argv, env=env, preexec_fn=lambda: procs.die_with_parent(signal.SIGTERM))
        for _ in range(count))
    procline.set_title(f"Pool of {count} workers: {' '.join(str(p.pid) for p in workers)}")
    codes = [proc.wait() for proc in workers]
    return 0 if all(code == 0 for code in codes) else 1


def work_argv(argv: list[str]) -> list[str]:
    """The `workers` arguments a single worker takes: without --count, and without --pidfile
    and --background, which belong to this process."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg in ("--count", "--pidfile"):
            skip = True
        elif arg.startswith(("--count=", "--pidfile=")) or arg == "--background":
            continue
        else:
            out.append(arg)
    return out


def work_env(environ: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in environ.items() if k not in ("COUNT", "PIDFILE", "BACKGROUND")}
