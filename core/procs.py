"""Process lifecycle helpers: children that die with their parent, and stopping a whole tree.

Nothing the suite starts may outlive it. Children get PR_SET_PDEATHSIG, and stop_tree() signals
a process and all its descendants (found with psutil), waits, then SIGKILLs what is left.
"""

from __future__ import annotations

import ctypes
import shutil
import signal
import sys
import time
from pathlib import Path

import psutil

_prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl  # looked up once, used after each fork
PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGTERM) -> None:
    """Ask the kernel to send `sig` to this process when its parent dies. As a preexec_fn for
    subprocess.Popen it runs in the child between fork and exec; a forked job child calls it too."""
    _prctl(PR_SET_PDEATHSIG, sig)


def tree(pid: int) -> list[psutil.Process]:
    """The process and every descendant that is still alive."""
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def stop_tree(pids: list[int], sig: int = signal.SIGTERM, timeout: float = 10.0) -> None:
    """Send `sig` to each process tree, wait up to `timeout`, then SIGKILL the survivors."""
    procs: dict[int, psutil.Process] = {}
    for pid in pids:
        for p in tree(pid):
            procs[p.pid] = p
    for p in procs.values():
        try:
            p.send_signal(sig)
        except psutil.NoSuchProcess:
            pass
    survivors = _wait_gone(list(procs.values()), timeout)
    for p in survivors:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    _wait_gone(survivors, 5)


def _running(p: psutil.Process) -> bool:
    """Alive and not a zombie: a killed grandchild may stay a zombie until init reaps it,
    and a zombie runs nothing."""
    try:
        return p.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _wait_gone(processes: list[psutil.Process], timeout: float) -> list[psutil.Process]:
    """Wait until every process exited (reaping our own children); return those still running."""
    deadline = time.monotonic() + timeout
    while True:
        psutil.wait_procs(processes, timeout=0)  # reaps direct children that exited
        left = [p for p in processes if _running(p)]
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(0.02)


def alive(pids: list[int]) -> list[int]:
    """Pids among `pids` and their descendants that still run (zombies count as gone)."""
    out = []
    for pid in pids:
        for p in tree(pid):
            try:
                if p.status() != psutil.STATUS_ZOMBIE:
                    out.append(p.pid)
            except psutil.NoSuchProcess:
                pass
    return out


def console_script(name: str) -> str:
    """The console script `name` installed with this Python (not whatever is first on PATH)."""
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise FileNotFoundError(f"the `{name}` command is not installed: pip install {name}")
    return found
