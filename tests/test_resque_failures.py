"""The failed list: admin operations (requeue one / remove one / clear / requeue all) and pruning
of dead workers, whose held job becomes a failure record."""

from __future__ import annotations

import json
import re
import signal
import socket
import time

import pytest
from resque_jobs import (
    Boom,
    Sleeper,
    events,
)
from system_helpers import wait_for

from comparisons.resque_clone import admin, keys


@pytest.fixture
def failed(resque, resque_worker):
    """Three real failures (Boom a, b, c) made by a worker that drained the queue."""
    for tag in ("a", "b", "c"):
        resque.enqueue_to("work", Boom, tag)
    worker = resque_worker("--queue", "work", "--interval", "0", wait=False)
    assert worker.wait(timeout=30) == 0, worker.output()
    assert admin.count(resque) == 3
    return resque


def test_requeue_one_pushes_the_payload_back_and_marks_retried_at(failed, redis_client):
    record = admin.requeue(failed, 1)
    assert redis_client.lrange("resque:queue:work", 0, -1) == [b'{"class":"Boom","args":["b"]}']
    stored = json.loads(redis_client.lindex("resque:failed", 1))
    assert list(stored)[-1] == "retried_at" and stored == record
    assert re.fullmatch(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d", stored["retried_at"])
    assert admin.count(failed) == 3  # the record stays, marked


def test_remove_one_deletes_exactly_that_record(failed):
    admin.remove(failed, 0)
    assert [r["payload"]["args"] for r in admin.records(failed)] == [["b"], ["c"]]


def test_clear_deletes_every_record(failed, redis_client):
    assert admin.clear(failed) == 3
    assert not redis_client.exists("resque:failed")


def test_requeue_all_requeues_every_record(failed):
    assert admin.requeue_all(failed) == 3
    assert [p["args"] for p in failed.peek("work", 0, 10)] == [["a"], ["b"], ["c"]]


def test_out_of_range_index_is_a_clear_error(failed):
    with pytest.raises(admin.NoSuchFailure, match="no failed job at index 9"):
        admin.requeue(failed, 9)
    with pytest.raises(admin.NoSuchFailure):
        admin.remove(failed, 9)


def test_a_malformed_payload_cannot_be_requeued(resque, redis_client):
    redis_client.rpush("resque:failed", keys.encode(keys.failure_record(
        "{not json", "InvalidPayload", "bad", [], "w", "default")))
    with pytest.raises(admin.NotRequeueable, match="remove it instead"):
        admin.requeue(resque, 0)
    assert admin.requeue_all(resque) == 0


def test_cli_lists_and_requeues_failures(failed, redis_url):
    import subprocess
    import sys

    from resque_jobs import ROOT

    run = [sys.executable, "-m", "comparisons.resque_clone", "failed", "--redis", redis_url]
    listing = subprocess.run([*run, "list"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert listing.returncode == 0 and listing.stdout.count("RuntimeError: boom") == 3
    again = subprocess.run([*run, "requeue", "2"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert again.returncode == 0 and failed.size("work") == 1
    bad = subprocess.run([*run, "remove", "7"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 1 and "no failed job at index 7" in bad.stderr


# -- pruning ---------------------------------------------------------------------------------


def test_a_killed_workers_job_becomes_a_failure_when_the_next_worker_prunes(resque, resque_worker,
                                                                             run_dir, redis_client):
    victim = resque_worker("--queue", "default", "--interval", "0.05")
    dead_id = f"{socket.gethostname()}:{victim.pid}:default"
    resque.enqueue(Sleeper, 30, "held")
    [start] = wait_for(lambda: events(run_dir, "sleep-start"), what="the job to start")
    victim.signal(signal.SIGKILL)
    victim.wait()
    assert redis_client.exists(f"resque:worker:{dead_id}")  # the trace a crash leaves

    resque_worker("--queue", "*", "--interval", "0.05")  # start-up prunes
    [record] = [json.loads(r) for r in redis_client.lrange("resque:failed", 0, -1)]
    assert record["exception"] == "Resque::DirtyExit" and record["error"] == "Job still being processed"
    assert record["worker"] == dead_id and record["payload"] == {"class": "Sleeper", "args": [30, "held"]}
    assert dead_id.encode() not in redis_client.smembers("resque:workers")
    assert not redis_client.exists(f"resque:worker:{dead_id}", f"resque:worker:{dead_id}:started")
    assert redis_client.hget("resque:workers:heartbeat", dead_id) is None
    # the forked child died with its worker (PR_SET_PDEATHSIG): no orphan is left running
    import psutil

    wait_for(lambda: not psutil.pid_exists(start["pid"]) or
             psutil.Process(start["pid"]).status() == psutil.STATUS_ZOMBIE, what="the child to die")
    assert events(run_dir, "sleep-end") == []


def test_a_worker_with_an_expired_heartbeat_is_pruned_from_any_host(resque, resque_worker, redis_client):
    ghost = "elsewhere:4242:default"
    redis_client.sadd("resque:workers", ghost)
    redis_client.hset("resque:workers:heartbeat", ghost, "2020-01-01T00:00:00+00:00")
    redis_client.set(f"resque:worker:{ghost}", keys.working_on("default", {"class": "Echo", "args": [1]}))
    live = "elsewhere:4343:default"  # another host, fresh heartbeat: not ours to judge
    redis_client.sadd("resque:workers", live)
    redis_client.hset("resque:workers:heartbeat", live, keys.heartbeat_at(time.time()))
    resque_worker("--queue", "default", "--interval", "0.05")
    [record] = [json.loads(r) for r in redis_client.lrange("resque:failed", 0, -1)]
    assert record["exception"] == "Resque::PruneDeadWorkerDirtyExit" and ghost in record["error"]
    assert "while processing Echo" in record["error"]
    workers = {w.decode() for w in redis_client.smembers("resque:workers")}
    assert ghost not in workers and live in workers



def test_an_expired_heartbeat_of_an_unregistered_worker_is_pruned(resque, resque_worker, redis_client):
    ghost = "elsewhere:4444:default"  # a heartbeat left behind, the worker never (or no longer) registered
    redis_client.hset("resque:workers:heartbeat", ghost, "2020-01-01T00:00:00+00:00")
    fresh = "elsewhere:4545:default"
    redis_client.hset("resque:workers:heartbeat", fresh, keys.heartbeat_at(time.time()))
    resque_worker("--queue", "default", "--interval", "0.05")
    beats = {w.decode() for w in redis_client.hkeys("resque:workers:heartbeat")}
    assert ghost not in beats and fresh in beats


def test_a_worker_id_leaves_out_excluded_queues_as_ruby_does(resque_worker, redis_client):
    worker = resque_worker("--queue", "*,!low", "--interval", "0.05")
    [wid] = [w.decode() for w in redis_client.smembers("resque:workers")]
    assert wid == f"{socket.gethostname()}:{worker.pid}:*"
