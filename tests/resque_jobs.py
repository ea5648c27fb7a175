"""Job classes and helpers for the Resque clone tests.

Workers load this file with `--require tests/resque_jobs.py`. Every job appends one JSON event
per step to <run_dir>/events.jsonl (one O_APPEND write each, safe across forked children), so a
test can read what ran, in which order and in which process. tests/conftest.py loads it as a
pytest plugin, so its fixtures (`resque`, `resque_worker`) reach every test without an import.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from comparisons.resque_clone import Resque
from comparisons.resque_clone.hooks import DontFail, DontPerform, worker_hook
from comparisons.resque_clone.retry import Retry

ROOT = Path(__file__).resolve().parent.parent
JOBS_FILE = str(Path(__file__).resolve())


# ---------------------------------------------------------------------------------------------
# events


def emit(event: str, **data: Any) -> None:
    path = Path(os.environ["QUEUEBENCH_RUN_DIR"]) / "events.jsonl"
    line = json.dumps({"event": event, "pid": os.getpid(), "t": time.time(), **data}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def events(run_dir: Path, name: str | None = None) -> list[dict[str, Any]]:
    path = run_dir / "events.jsonl"
    if not path.exists():
        return []
    out = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [e for e in out if name is None or e["event"] == name]


# ---------------------------------------------------------------------------------------------
# jobs


class Echo:
    queue = "default"

    @staticmethod
    def perform(*args: Any) -> None:
        emit("echo", args=list(args))


class Outer:
    """Not a job itself: a namespace, as Ruby's `module Outer`."""

    class Inner:
        queue = "default"

        @staticmethod
        def perform(*args: Any) -> None:
            emit("inner", args=list(args))


class Boom:
    queue = "default"

    @staticmethod
    def perform(message: str) -> None:
        raise RuntimeError(f"boom: {message}")


class Sleeper:
    queue = "default"

    @staticmethod
    def perform(seconds: float, tag: str) -> None:
        emit("sleep-start", tag=tag)
        time.sleep(seconds)
        emit("sleep-end", tag=tag)


class Graceful:
    """Sleeps; on TermException (the worker's TERM_CHILD) records that it cleaned up, re-raises."""

    queue = "default"

    @staticmethod
    def perform(seconds: float, tag: str) -> None:
        from comparisons.resque_clone.job import TermException

        emit("sleep-start", tag=tag)
        try:
            time.sleep(seconds)
        except TermException:
            emit("term-caught", tag=tag)
            raise
        emit("sleep-end", tag=tag)


class Stubborn:
    """Ignores SIGTERM and sleeps: only a KILL stops it."""

    queue = "default"

    @staticmethod
    def perform(seconds: float, tag: str) -> None:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        emit("sleep-start", tag=tag)
        time.sleep(seconds)
        emit("sleep-end", tag=tag)


class AtExit:
    """Registers an atexit handler in the process running the job."""

    queue = "default"

    @staticmethod
    def perform(tag: str) -> None:
        import atexit

        atexit.register(emit, "atexit", tag=tag)
        emit("echo", args=[tag])


class Crasher:
    queue = "default"

    @staticmethod
    def perform() -> None:
        os.kill(os.getpid(), signal.SIGKILL)


class Hooked:
    queue = "default"

    @classmethod
    def before_perform_b(cls, *args: Any) -> None:
        emit("before_perform_b")

    @classmethod
    def before_perform_a(cls, *args: Any) -> None:
        emit("before_perform_a")

    @classmethod
    def around_perform_x(cls, *args: Any) -> Iterator[None]:
        emit("around_enter")
        yield
        emit("around_exit")

    @classmethod
    def after_perform_a(cls, *args: Any) -> None:
        emit("after_perform_a")

    @classmethod
    def on_failure_a(cls, exc: BaseException, *args: Any) -> None:
        emit("on_failure_a", error=str(exc), args=list(args))

    @staticmethod
    def perform(fail: bool) -> None:
        emit("perform")
        if fail:
            raise ValueError("hooked failure")


class Skipper:
    queue = "default"

    @classmethod
    def before_perform_skip(cls, *args: Any) -> None:
        raise DontPerform()

    @staticmethod
    def perform() -> None:
        emit("skipper-performed")


class HandledFailure:
    """Its on_failure hook handles the failure itself and says DontFail."""

    queue = "default"

    @classmethod
    def on_failure_handled(cls, exc: BaseException, *args: Any) -> None:
        emit("handled", error=str(exc))
        raise DontFail()

    @staticmethod
    def perform() -> None:
        raise RuntimeError("handled elsewhere")


class Guarded:
    queue = "default"
    enqueued: list[Any] = []

    @classmethod
    def before_enqueue_check(cls, value: str) -> bool:
        return value != "refuse"

    @classmethod
    def after_enqueue_note(cls, value: str) -> None:
        cls.enqueued.append(value)

    @staticmethod
    def perform(value: str) -> None:
        emit("guarded", value=value)


class Renamed:
    resque_class = "Archive::Deliver"
    queue = "archive"

    @staticmethod
    def perform(*args: Any) -> None:
        emit("renamed", args=list(args))


class FlakyRetry(Retry):
    """Fails until its attempt number reaches `succeed_on` (1-based)."""

    queue = "default"
    retry_limit = 3
    retry_delay = 0

    @classmethod
    def perform(cls, key: str, succeed_on: int) -> None:
        attempt = cls._retry_attempt + 1
        emit("flaky", key=key, attempt=attempt)
        if attempt < succeed_on:
            raise RuntimeError(f"attempt {attempt} fails")


class DelayedRetry(Retry):
    queue = "default"
    retry_limit = 1
    retry_delay = 1

    @classmethod
    def perform(cls, key: str) -> None:
        emit("delayed-retry", key=key, attempt=cls._retry_attempt + 1)
        raise RuntimeError("always fails")


@worker_hook("before_first_fork")
def _before_first_fork() -> None:
    emit("before_first_fork")


@worker_hook("before_fork")
def _before_fork(job: Any) -> None:
    emit("before_fork", job=job.class_name)


@worker_hook("after_fork")
def _after_fork(job: Any) -> None:
    emit("after_fork", job=job.class_name)


# ---------------------------------------------------------------------------------------------
# helpers for tests


class WorkerProcess:
    """A real `python -m comparisons.resque_clone work` process."""

    def __init__(self, redis_url: str, run_dir: Path, args: list[str], env: dict[str, str] | None = None,
                 command: str = "work"):
        self.log_path = run_dir / f"worker-{time.monotonic_ns()}.log"
        full_env = {**os.environ, "QUEUEBENCH_RUN_DIR": str(run_dir), "PYTHONUNBUFFERED": "1",
                    **(env or {})}
        argv = [sys.executable, "-m", "comparisons.resque_clone", command]
        if redis_url:
            argv += ["--redis", redis_url]
        if command in ("work", "workers"):
            argv += ["--require", JOBS_FILE]
        self.log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        from core.procs import die_with_parent

        self.proc = subprocess.Popen(argv + args, stdout=self.log, stderr=subprocess.STDOUT,
                                     env=full_env, cwd=ROOT, preexec_fn=die_with_parent)
        self.pid = self.proc.pid

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def title(self) -> str:
        try:
            return " ".join(part for part in psutil.Process(self.pid).cmdline() if part)
        except psutil.NoSuchProcess:
            return ""

    def children(self) -> list[int]:
        try:
            return [c.pid for c in psutil.Process(self.pid).children()]
        except psutil.NoSuchProcess:
            return []

    def signal(self, sig: int) -> None:
        os.kill(self.pid, sig)

    def wait(self, timeout: float = 10.0) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        from core.procs import stop_tree

        if self.proc.poll() is None:
            stop_tree([self.pid], signal.SIGKILL, timeout=5)
        self.proc.wait(timeout=10)
        self.log.close()


@pytest.fixture
def resque(redis_url: str) -> Iterator[Resque]:
    """A Resque client on the test's clean database; its connection closed afterwards."""
    client = Resque(redis_url)
    yield client
    client.conn.close()


@pytest.fixture(name="resque_worker")
def resque_worker_fixture(redis_url: str, run_dir: Path, redis_client: Any) -> Iterator[Callable[..., WorkerProcess]]:
    """Factory: start a worker with the given CLI args; it is stopped (and its children) at the
    end of the test, passed or failed. By default waits until the worker registered."""
    started: list[WorkerProcess] = []

    def start(*args: str, env: dict[str, str] | None = None, wait: bool = True,
              command: str = "work", redis: str | None = None) -> WorkerProcess:
        worker = WorkerProcess(redis_url if redis is None else redis, run_dir, list(args), env, command)
        started.append(worker)
        if wait and command == "work":
            from system_helpers import wait_for  # (tests only: workers load this file too)

            wait_for(lambda: worker.proc.poll() is not None or any(
                w.decode().split(":")[1] == str(worker.pid) for w in redis_client.smembers("resque:workers")),
                what="worker registration")
            assert worker.proc.poll() is None, worker.output()
        return worker

    yield start
    for worker in started:
        worker.stop()
