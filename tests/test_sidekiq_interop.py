"""Interop with real Sidekiq 6.4.1 (Debian's ruby-sidekiq) on the same Redis.

Jobs cross in both directions, a failure on the clone reads back through Sidekiq's own API,
and scheduled jobs from either side are picked up by the other's poller. Without Ruby or the
gem these tests skip and say why; with CI=true a missing one fails the run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sidekiq_jobs
from sidekiq_jobs import (  # noqa: F401 - sidekiq_server_fixture provides sidekiq_server
    ROOT,
    events,
    sidekiq_server_fixture,
)
from system_helpers import needs, wait_for

from comparisons.sidekiq_clone.bench import ruby_sidekiq_available
from comparisons.sidekiq_clone.client import Client

RUBY = ROOT / "tests" / "ruby"


@pytest.fixture(scope="module")
def ruby() -> None:
    needs(ruby_sidekiq_available(), "the Sidekiq interop tests need real Sidekiq")


def ruby_run(redis_url: str, script: str, *args: str) -> str:
    out = subprocess.run(["ruby", str(RUBY / script), *args], capture_output=True, text=True,
                         timeout=60, env=dict(os.environ, REDIS_URL=redis_url), cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def read_sets(redis_url: str) -> dict[str, Any]:
    return json.loads(ruby_run(redis_url, "read_sets.rb"))


@pytest.fixture
def ruby_sidekiq(ruby: None, redis_url: str, tmp_path: Path) -> Iterator[Callable[[], int]]:
    """start() -> pid of a real `sidekiq` process on the test's Redis, stopped afterwards."""
    from core.procs import die_with_parent, stop_tree

    procs: list[subprocess.Popen[bytes]] = []
    r = redis.Redis.from_url(redis_url)

    def start() -> int:
        log = tmp_path / "ruby-sidekiq.log"
        with open(log, "ab") as fh:
            proc = subprocess.Popen(
                ["sidekiq", "-r", str(RUBY / "interop_worker.rb"), "-c", "2", "-q", "default",
                 "-t", "1"], cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                env=dict(os.environ, REDIS_URL=redis_url), preexec_fn=die_with_parent)
        procs.append(proc)

        def registered() -> bool:
            if proc.poll() is not None:
                pytest.fail(f"sidekiq exited: {log.read_text()[-2000:]}")
            for ident in r.smembers("processes"):
                info = r.hget(ident, "info")
                if info and json.loads(info).get("pid") == proc.pid:
                    return True
            return False

        wait_for(registered, 30, "real Sidekiq's first heartbeat")
        return proc.pid

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        stop_tree([proc.pid], signal.SIGKILL, timeout=10)
        proc.wait()
    r.close()


def test_a_job_pushed_by_ruby_runs_on_the_clone(ruby: None, sidekiq_server: Any, redis_url: str,
                                                redis_client: redis.Redis) -> None:
    sidekiq_server("-c", "2")
    jid = ruby_run(redis_url, "push.rb", "InteropWorker", "from-ruby")
    (ran,) = wait_for(lambda: events(redis_client, "ran"), 10, "the clone to run it")
    assert ran == {**ran, "token": "from-ruby", "jid": jid, "runner": "python"}


def test_a_job_pushed_by_the_clone_runs_on_real_sidekiq(ruby_sidekiq: Any,
                                                        redis_client: redis.Redis) -> None:
    pid = ruby_sidekiq()
    jid = Client(redis_client).push({"class": sidekiq_jobs.InteropWorker, "args": ["from-py"]})
    (ran,) = wait_for(lambda: events(redis_client, "ran"), 15, "real Sidekiq to run it")
    assert ran["runner"] == "ruby" and ran["jid"] == jid and ran["token"] == "from-py"
    assert ran["pid"] == pid


def test_a_failure_on_the_clone_reads_back_through_sidekiqs_retry_set(
        ruby: None, sidekiq_server: Any, redis_url: str, redis_client: redis.Redis) -> None:
    sidekiq_server("-c", "2")
    jid = Client(redis_client).push({"class": sidekiq_jobs.InteropFailing, "args": ["x1"]})
    wait_for(lambda: redis_client.zcard("retry") == 1, 10, "the retry entry")
    sets = read_sets(redis_url)
    (entry,) = sets["retry"]
    assert entry["jid"] == jid and entry["klass"] == "InteropFailing"
    assert entry["retry_count"] == 0 and entry["error_class"] == "RuntimeError"
    assert entry["error_message"] == "interop failure x1" and entry["queue"] == "default"
    assert entry["failed_at"] <= time.time() and entry["at"] >= time.time() + 10
    assert any(p["pid"] for p in sets["processes"])  # Sidekiq's ProcessSet lists the clone


def test_a_ruby_perform_in_job_is_picked_up_by_the_clones_poller(
        ruby: None, sidekiq_server: Any, redis_url: str, redis_client: redis.Redis) -> None:
    sidekiq_server("-c", "2", poll=0.1)
    pushed = time.time()
    jid = ruby_run(redis_url, "push.rb", "InteropWorker", "later-ruby", "1")
    assert redis_client.zcard("schedule") == 1
    (ran,) = wait_for(lambda: events(redis_client, "ran"), 10, "the clone's poller")
    assert ran["jid"] == jid and ran["runner"] == "python" and ran["t"] >= pushed + 1


def test_a_clone_perform_in_job_is_picked_up_by_sidekiqs_poller(
        ruby_sidekiq: Any, redis_url: str, redis_client: redis.Redis) -> None:
    from comparisons.sidekiq_clone import connection

    connection.configure(redis_url)
    ruby_sidekiq()
    pushed = time.time()
    jid = sidekiq_jobs.InteropWorker.perform_in(1, "later-py")
    assert redis_client.zcard("schedule") == 1
    (ran,) = wait_for(lambda: events(redis_client, "ran"), 20, "real Sidekiq's poller")
    assert ran["jid"] == jid and ran["runner"] == "ruby" and ran["t"] >= pushed + 1


def test_sidekiq_workers_lists_a_running_clone_job(
        ruby: None, sidekiq_server: Any, redis_url: str, redis_client: redis.Redis) -> None:
    """Sidekiq 6.4.1's Sidekiq::Workers (its Busy page) reads `<identity>:workers`: the
    clone's running job is listed there, not only counted."""
    server = sidekiq_server("-c", "2")
    jid = Client(redis_client).push({"class": sidekiq_jobs.Slow, "args": ["busy", 3.0]})
    wait_for(lambda: events(redis_client, "start"), 10, "the job to start")
    seen = wait_for(lambda: (w := json.loads(ruby_run(redis_url, "read_workers.rb")))["jobs"]
                    and w, 5, "Sidekiq::Workers to list the job")
    assert seen["size"] == 1
    [job] = seen["jobs"]
    assert job["process"] == server.identity and job["jid"] == jid
    assert job["klass"] == "Slow" and job["queue"] == "default"
