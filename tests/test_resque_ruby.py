"""The Resque clone's keys, read and written by Ruby (its JSON, its Time, the redis gem), as
Resque 2.x and resque-web read and write them. Without Ruby and the redis gem these tests skip
and say why; with CI=true a missing one fails the run (.ci/run installs them)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from typing import Any

import pytest
from resque_jobs import ROOT, Boom, Echo, events
from system_helpers import needs, wait_for

from comparisons.resque_clone import keys

PEER = ROOT / "tests" / "ruby" / "resque_peer.rb"
# the shapes a real payload carries, including the ones encoders disagree on most often
ARGS: list[Any] = [44, "masterbrew", {"k": "v", "n": [1, [2]]}, None, 1.5, True, "é ☃",
                   "line\nbreak", 'quote"s', "back\\slash", "/path/to"]


def ruby_redis_missing() -> str | None:
    if not shutil.which("ruby"):
        return "ruby is not installed (apt-get install ruby-redis)"
    probe = subprocess.run(["ruby", "-e", 'require "redis"; require "json"'], capture_output=True,
                           text=True, timeout=60)
    return None if probe.returncode == 0 else f"the redis gem does not load: {probe.stderr.strip()[:200]}"


@pytest.fixture(scope="module", autouse=True)
def ruby() -> None:
    needs(ruby_redis_missing(), "the Resque interop tests need Ruby with the redis gem")


def peer(redis_url: str, *args: str) -> str:
    out = subprocess.run(["ruby", str(PEER), *args], capture_output=True, text=True, timeout=60,
                         env=dict(os.environ, REDIS_URL=redis_url), cwd=ROOT)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_a_job_pushed_from_ruby_runs_on_the_clone_with_its_args(redis_url, resque_worker, run_dir):
    raw = peer(redis_url, "push", "default", "Echo", json.dumps(ARGS))
    assert raw == keys.encode(keys.job_payload("Echo", ARGS))  # the same bytes either side
    worker = resque_worker("--queue", "default", "--interval", "0", wait=False)
    assert worker.wait(timeout=30) == 0, worker.output()
    assert [e["args"] for e in events(run_dir, "echo")] == [ARGS]


def test_ruby_reads_the_queues_failures_stats_and_workers_the_clone_writes(
        resque, resque_worker, redis_url, redis_client):
    resque.enqueue(Echo, *ARGS)  # stays queued: the worker below only works "critical"
    resque.enqueue_to("critical", Boom, "for ruby")
    worker = resque_worker("--queue", "critical", "--interval", "0.05")
    wait_for(lambda: redis_client.llen("resque:failed") == 1 and redis_client.get("resque:stat:processed"),
             what="the failure")
    seen = json.loads(peer(redis_url, "read"))
    now = time.time()

    assert seen["queues"] == ["critical", "default"]
    assert seen["queued"]["default"] == [{"class": "Echo", "args": ARGS, "same_bytes": True}]
    [failure] = seen["failed"]
    assert failure["keys"] == ["failed_at", "payload", "exception", "error", "backtrace", "worker", "queue"]
    assert abs(failure["failed_at"] - now) < 60
    assert (failure["exception"], failure["error"]) == ("RuntimeError", "boom: for ruby")
    assert (failure["class"], failure["args"], failure["queue"]) == ("Boom", ["for ruby"], "critical")
    assert failure["backtrace"] and all(isinstance(line, str) for line in failure["backtrace"])
    assert (seen["processed"], seen["failed_count"]) == (1, 1)
    [me] = seen["workers"]
    assert failure["worker"] == me["id"] and me["pid"] == worker.pid and me["queues"] == ["critical"]
    assert abs(me["started"] - now) < 60 and abs(me["heartbeat"] - now) < 60
