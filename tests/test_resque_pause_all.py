"""`resque:pause-all-workers` == "true" (Resque 2.x, any case, spaces around) makes every worker
stop taking jobs, including the next-job pop the worker sends with its per-job bookkeeping; the
workers resume on their own once the key is cleared."""

from __future__ import annotations

import time

import pytest
from resque_jobs import Echo, Sleeper, events
from system_helpers import wait_for


def echoed(run_dir):
    return [e["args"][0] for e in events(run_dir, "echo")]


@pytest.mark.parametrize("mode", [(), ("--blocking",), ("--queue", "*")], ids=["poll", "blocking", "star"])
def test_a_paused_fleet_takes_no_job_and_resumes_when_the_key_is_cleared(mode, resque, resque_worker,
                                                                         redis_client, run_dir):
    redis_client.set("resque:pause-all-workers", " TRUE ")
    args = ("--queue", "default", *mode) if mode != ("--queue", "*") else mode
    worker = resque_worker(*args, "--interval", "0.1")
    resque.enqueue(Echo, "held")
    time.sleep(1.0)
    assert echoed(run_dir) == [] and redis_client.llen("resque:queue:default") == 1
    assert "Paused" in worker.title()
    redis_client.delete("resque:pause-all-workers")
    wait_for(lambda: echoed(run_dir) == ["held"], what="the job after resuming")
    assert worker.proc.poll() is None


def test_pausing_during_a_job_stops_the_piggybacked_next_pop(resque, resque_worker, redis_client, run_dir):
    worker = resque_worker("--queue", "default", "--interval", "0.1")
    resque.enqueue(Sleeper, 0.8, "first")
    wait_for(lambda: events(run_dir, "sleep-start"), what="the first job to start")
    resque.enqueue(Echo, "second")
    redis_client.set("resque:pause-all-workers", "true")
    wait_for(lambda: events(run_dir, "sleep-end"), what="the first job to end")
    time.sleep(0.8)
    assert echoed(run_dir) == [] and redis_client.llen("resque:queue:default") == 1
    redis_client.set("resque:pause-all-workers", "false")
    wait_for(lambda: echoed(run_dir) == ["second"], what="the job after resuming")
    assert worker.proc.poll() is None
