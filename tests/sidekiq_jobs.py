"""Worker classes the Sidekiq clone tests push and their servers load (-r tests/sidekiq_jobs.py).

Jobs report what happened by RPUSHing a JSON event to the list EVENTS on the server's Redis,
so a test reads the facts back from Redis: which job ran, when, in which process, how often.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

from comparisons.sidekiq_clone import connection
from comparisons.sidekiq_clone.middleware import server_middleware
from comparisons.sidekiq_clone.worker import Worker

EVENTS = "test:events"
SCALE = 0.01  # retry delays scaled down: Sidekiq's seconds become centiseconds


def emit(event: str, **fields: Any) -> None:
    connection.client().rpush(EVENTS, json.dumps({"event": event, "t": time.time(),
                                                  "pid": os.getpid(), **fields}))


class Recorder(Worker):
    """Records its arguments, and whether this instance was fresh."""

    def perform(self, *args: Any) -> None:
        fresh = not hasattr(self, "used")
        self.used = True
        emit("ran", jid=self.jid, args=list(args), fresh=fresh,
             thread=threading.current_thread().name, trace=self.job.get("trace", []))


class Slow(Worker):
    """Sleeps `seconds`, recording start and end."""

    def perform(self, token: str, seconds: float) -> None:
        emit("start", token=token, jid=self.jid)
        time.sleep(seconds)
        emit("done", token=token, jid=self.jid)


class ScaledRetries:
    """Mixin: Sidekiq's retry delays (count**4 + 15 s, plus jitter) scaled down by SCALE."""

    sidekiq_retry_jitter_unit = SCALE

    def sidekiq_retry_in(self, count: int, exc: BaseException) -> float:
        return (count**4 + 15) * SCALE


class FailTwice(ScaledRetries, Worker):
    """Fails its first two executions, then succeeds; retry delays scaled by SCALE."""

    sidekiq_options = {"retry": 5}

    def perform(self, token: str) -> None:
        count = self.job.get("retry_count")
        emit("attempt", token=token, retry_count=count)
        if count is None or count < 1:
            raise RuntimeError(f"planned failure of {token}")


class AlwaysFails(ScaledRetries, Worker):
    sidekiq_options = {"retry": 1}

    def perform(self, token: str) -> None:
        emit("attempt", token=token, retry_count=self.job.get("retry_count"))
        raise ValueError(f"always fails: {token}")

    def sidekiq_retries_exhausted(self, job: dict[str, Any], exc: BaseException) -> None:
        emit("exhausted", token=job["args"][0], error=str(exc))


class InteropWorker(Worker):
    """Same name as the Ruby class in tests/ruby/interop_worker.rb."""

    def perform(self, token: str) -> None:
        emit("ran", token=token, jid=self.jid, runner="python")


class InteropFailing(Worker):
    sidekiq_options = {"retry": 3}

    def perform(self, token: str) -> None:
        raise RuntimeError(f"interop failure {token}")


class Tracing:
    """A server middleware: appends its name to job["trace"] before the job runs."""

    def call(self, worker: Worker, job: dict[str, Any], queue: str, yield_: Any) -> Any:
        job.setdefault("trace", []).append(f"tracing:{queue}")
        return yield_()


server_middleware.add(Tracing)


# --- test helpers: real server processes, stopped afterwards ---------------------------------

import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from collections.abc import Callable, Iterator  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
import redis  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
JOBS_FILE = Path(__file__).resolve()


class Server:
    """One `python -m comparisons.sidekiq_clone` process started for a test."""

    def __init__(self, proc: subprocess.Popen[bytes], log: Path, r: redis.Redis) -> None:
        self.proc, self.log, self.redis = proc, log, r
        self.identity = ""

    @property
    def pid(self) -> int:
        return self.proc.pid

    def log_text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def signal(self, sig: int) -> None:
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int:
        return self.proc.wait(timeout=timeout)

    def stop(self) -> None:
        from core.procs import stop_tree

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        stop_tree([self.proc.pid], signal.SIGKILL, timeout=5)
        if self.proc.poll() is None:
            self.proc.wait(timeout=5)


def events(r: redis.Redis, kind: str | None = None) -> list[dict[str, Any]]:
    out = [json.loads(e) for e in r.lrange(EVENTS, 0, -1)]
    return [e for e in out if kind is None or e["event"] == kind]


@pytest.fixture(name="sidekiq_server")
def sidekiq_server_fixture(redis_url: str, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """start(*flags, wait=True) -> a running server loading this file's workers; every
    server is stopped (TERM, then SIGKILL of its tree) when the test ends."""
    from system_helpers import wait_for  # on sys.path under pytest only, not in the workers

    from core.procs import die_with_parent

    started: list[Server] = []
    r = redis.Redis.from_url(redis_url)

    def start(*flags: str, wait: bool = True, beat: float = 0.2, poll: float = 0.1) -> Server:
        log = tmp_path / f"server-{len(started)}.log"
        argv = [sys.executable, "-m", "comparisons.sidekiq_clone", "-r", str(JOBS_FILE),
                "--redis-url", redis_url, "--beat-interval", str(beat),
                "--poll-interval", str(poll), *flags]
        with open(log, "ab") as fh:
            proc = subprocess.Popen(argv, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, preexec_fn=die_with_parent,
                                    env=dict(os.environ, PYTHONUNBUFFERED="1"))
        server = Server(proc, log, r)
        started.append(server)
        if wait:
            def registered() -> str | None:
                if proc.poll() is not None:
                    pytest.fail(f"server exited with {proc.returncode}:\n{server.log_text()}")
                for ident in r.smembers("processes"):
                    ident = ident.decode()
                    if ident.split(":")[-2] == str(proc.pid) and r.exists(ident):
                        return ident
                return None

            server.identity = wait_for(registered, 15, "the server's first heartbeat")
        return server

    yield start
    for server in started:
        server.stop()
    r.close()
