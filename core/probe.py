"""The in-worker recorder and its record format: runs one attempt of a job and writes one line.

Every system's job entry point calls workloads.registry.run_job, which calls `run(...)` here
with the workload's perform. The probe stamps the start (wall clock, time.time_ns, before the
work runs), runs it, stamps the end, and appends one
JSON line to `<run_dir>/records/<pid>.jsonl` with a single unbuffered os.write on an O_APPEND
descriptor. No Redis round trip is on the job's path, and a record written survives a SIGKILL
of the worker a microsecond later. Forked children open their own file (the pid is checked).

A record: {"system", "job", "attempt", "planned", "start", "end", "outcome", "error", "pid"}
with times in integer nanoseconds since the epoch (CLOCK_REALTIME), outcome "ok" or "error".
In a run directory holding the MEMORY_FLAG file (the memory scenario's cells), a record also
carries "uss" and "pss": the job process's own memory in bytes at the job's end, read from
/proc/self/smaps_rollup (about 0.1 ms, so only there): a child forked for one job and gone
before the next 100 ms memory sample is still counted.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

ENV_RUN_DIR = "QUEUEBENCH_RUN_DIR"
RECORDS = "records"
MEMORY_FLAG = "probe-memory"  # in the run directory: records carry the job process's USS / PSS
SMAPS_ROLLUP = "/proc/self/smaps_rollup"

_fd: int | None = None
_fd_run_dir: str | None = None  # the run directory the descriptor was opened for
_fd_pid: int | None = None  # the process that opened it
_inherited = False  # forked children append to the parent's file (see open_for_children)
_memory = False  # whether this run directory asks for the job process's memory


def records_dir(run_dir: Path | str) -> Path:
    return Path(run_dir) / RECORDS


def _current(run_dir: str, pid: int) -> bool:
    return _fd_run_dir == run_dir and (_fd_pid == pid or _inherited)


def _descriptor() -> int:
    """The append-only record file of this process, opened on first use (again after fork, and
    when the run directory changes in a process that outlives one run)."""
    global _fd, _fd_run_dir, _fd_pid, _memory
    run_dir, pid = os.environ.get(ENV_RUN_DIR, ""), os.getpid()
    if _fd is not None and _current(run_dir, pid):
        return _fd
    if not run_dir:
        raise RuntimeError(f"{ENV_RUN_DIR} is not set: the worker does not know its run directory")
    if _fd is not None and _fd_pid == pid:
        os.close(_fd)  # ours, opened for the previous run directory
    directory = records_dir(run_dir)
    directory.mkdir(parents=True, exist_ok=True)
    _fd = os.open(directory / f"{pid}.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    _fd_run_dir, _fd_pid = run_dir, pid
    _memory = (Path(run_dir) / MEMORY_FLAG).exists()
    return _fd


def own_memory() -> tuple[int, int] | None:
    """(USS, PSS) of this process in bytes, from /proc/self/smaps_rollup; None where absent."""
    uss = pss = 0
    try:
        with open(SMAPS_ROLLUP, "rb") as fh:
            for line in fh:
                if line.startswith((b"Private_Clean:", b"Private_Dirty:")):
                    uss += int(line.split()[1]) * 1024
                elif line.startswith(b"Pss:"):
                    pss = int(line.split()[1]) * 1024
    except OSError:
        return None
    return uss, pss


def open_for_children() -> None:
    """For a worker that forks a child per job: open (or reopen, if it was removed) the record
    file in the parent, and let its forked children append to it instead of each creating a file
    of their own. Sharing is safe: every record is one O_APPEND write and carries its pid. Call it
    before each fork; it costs one fstat when nothing changed."""
    global _fd, _inherited
    if _fd is not None and _fd_pid == os.getpid() and os.fstat(_fd).st_nlink == 0:
        os.close(_fd)  # clear_records() removed it: start a new file
        _fd = None
    _descriptor()
    _inherited = True


_encode = json.JSONEncoder(separators=(",", ":")).encode  # built once, not per record
_quote = json.encoder.encode_basestring_ascii  # what json.dumps writes for a str


def record(entry: dict[str, Any]) -> None:
    """Append one record with one write(2) call."""
    os.write(_descriptor(), (_encode(entry) + "\n").encode())


def _value(v: Any) -> str:
    t = type(v)
    if t is str:
        return _quote(v)
    if t is int:
        return str(v)
    return "null" if v is None else _encode(v)


def _line(system: str, job: str, attempt: int | None, planned: int, start: int, end: int,
          outcome: str, error: str | None, pid: int) -> bytes:
    """The record as record() writes it (the same bytes), formatted directly: this is on every
    job's path, and in a worker that forks per job every page the general encoder touches in a
    fresh child is a page copied (about 30 per job, measured)."""
    return (f'{{"system":{_value(system)},"job":{_value(job)},"attempt":{_value(attempt)},'
            f'"planned":{_value(planned)},"start":{_value(start)},"end":{_value(end)},'
            f'"outcome":{_value(outcome)},"error":{_value(error)},"pid":{_value(pid)}}}\n').encode()


def run(
    system: str,
    job_id: str,
    planned_ns: int,
    perform: Callable[[], object],
    attempt: int | None = None,
) -> None:
    """Run one attempt of a job (`perform()`) and record it. Re-raises the job's exception,
    so the queue system sees the failure and applies its own retry policy."""
    start = time.time_ns()
    outcome, error = "ok", None
    try:
        perform()
    except BaseException as exc:
        outcome, error = "error", f"{type(exc).__name__}: {exc}"[:300]
        raise
    finally:
        end = time.time_ns()
        fd = _descriptor()
        line = _line(system, job_id, attempt, planned_ns, start, end, outcome, error, os.getpid())
        memory = own_memory() if _memory else None
        if memory is not None:
            line = line[:-2] + f',"uss":{memory[0]},"pss":{memory[1]}}}\n'.encode()
        os.write(fd, line)


def read_records(run_dir: Path | str) -> Iterator[dict[str, Any]]:
    """Every record written under run_dir, in no particular order. A torn last line (the
    process died mid-write, which one write(2) of a short line makes very unlikely) is skipped."""
    directory = records_dir(run_dir)
    if not directory.is_dir():
        return
    for path in sorted(directory.glob("*.jsonl")):
        with path.open() as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                try:
                    yield json.loads(line)
                except json.JSONDecodeError:
                    continue


def clear_records(run_dir: Path | str) -> None:
    directory = records_dir(run_dir)
    if directory.is_dir():
        for path in directory.glob("*.jsonl"):
            path.unlink()
