"""Delayed jobs (resque-scheduler layout), the scheduler, and the retry plugin (resque-retry)."""

from __future__ import annotations

import json
import signal
import time

from resque_jobs import (
    DelayedRetry,
    Echo,
    FlakyRetry,
    events,
)
from system_helpers import wait_for

from comparisons.resque_clone import scheduler


def test_scheduler_moves_only_due_items_to_their_queues(resque, redis_client):
    now = int(time.time())
    resque.enqueue_at_with_queue("mail", now - 5, Echo, "due")
    resque.enqueue_at(now + 3600, Echo, "later")
    assert scheduler.handle_delayed_items(resque.conn, now) == 1
    assert redis_client.lrange("resque:queue:mail", 0, -1) == [b'{"class":"Echo","args":["due"]}']
    assert redis_client.sismember("resque:queues", "mail")
    assert redis_client.zrange("resque:delayed_queue_schedule", 0, -1) == [str(now + 3600).encode()]
    assert not redis_client.exists(f"resque:delayed:{now - 5}")
    assert resque.delayed_queue_schedule_size() == 1


def test_a_worker_with_scheduler_runs_an_enqueue_in_job(resque, resque_worker, run_dir):
    resque_worker("--queue", "default", "--interval", "0.05", "--with-scheduler",
                  "--scheduler-interval", "0.1")
    t0 = time.time()
    resque.enqueue_in(1, Echo, "later")
    [event] = wait_for(lambda: events(run_dir, "echo"), timeout=10, what="the delayed job")
    # whole-second timestamps: due at int(t0 + 1), so it starts 0..1 s (+ polls) after t0
    assert int(t0 + 1) <= event["t"] < t0 + 3


def test_scheduler_command_moves_jobs_and_stops_on_term(resque, resque_worker, redis_client):
    sched = resque_worker("--interval", "0.1", command="scheduler")
    resque.enqueue_at(time.time() - 1, Echo, "moved")
    wait_for(lambda: redis_client.llen("resque:queue:default") == 1, what="the scheduler to move it")
    sched.signal(signal.SIGTERM)
    assert sched.wait(timeout=10) == 0


def test_retry_plugin_retries_until_success_without_filing_failures(resque, resque_worker, run_dir,
                                                                   redis_client):
    resque.enqueue(FlakyRetry, "k1", 3)  # fails attempts 1 and 2, succeeds on 3 (limit 3)
    resque_worker("--queue", "default", "--interval", "0.05")
    wait_for(lambda: len(events(run_dir, "flaky")) == 3, what="three attempts")
    wait_for(lambda: redis_client.get("resque:stat:processed") == b"3", what="the stats")
    assert [e["attempt"] for e in events(run_dir, "flaky")] == [1, 2, 3]
    assert redis_client.llen("resque:failed") == 0  # suppressed while a retry was planned
    assert redis_client.keys("resque:resque-retry:*") == []  # counter deleted on success
    assert redis_client.get("resque:stat:failed") == b"2"


def test_retry_plugin_gives_up_after_the_limit_and_files_the_last_failure(resque, resque_worker,
                                                                          run_dir, redis_client):
    resque.enqueue(FlakyRetry, "k2", 99)
    resque_worker("--queue", "default", "--interval", "0.05")
    wait_for(lambda: redis_client.llen("resque:failed") == 1, what="the final failure")
    assert [e["attempt"] for e in events(run_dir, "flaky")] == [1, 2, 3, 4]  # 1 + retry_limit 3
    record = json.loads(redis_client.lindex("resque:failed", 0))
    assert record["payload"] == {"class": "FlakyRetry", "args": ["k2", 99]}
    assert redis_client.keys("resque:resque-retry:*") == []


def test_a_delayed_retry_goes_through_the_delayed_schedule(resque, resque_worker, run_dir, redis_client):
    resque.enqueue(DelayedRetry, "d")
    worker = resque_worker("--queue", "default", "--interval", "0.05")
    wait_for(lambda: redis_client.zcard("resque:delayed_queue_schedule") == 1, what="a scheduled retry")
    [name] = redis_client.zrange("resque:delayed_queue_schedule", 0, -1)
    assert redis_client.lrange(b"resque:delayed:" + name, 0, -1) == [
        b'{"class":"DelayedRetry","args":["d"],"queue":"default"}']
    counter = redis_client.keys("resque:resque-retry:DelayedRetry:*")
    assert len(counter) == 1 and redis_client.get(counter[0]) == b"0"
    worker.signal(signal.SIGQUIT)
    worker.wait(timeout=10)
    resque_worker("--queue", "default", "--interval", "0.05", "--with-scheduler",
                  "--scheduler-interval", "0.1")
    wait_for(lambda: redis_client.llen("resque:failed") == 1, timeout=10, what="the second attempt")
    assert [e["attempt"] for e in events(run_dir, "delayed-retry")] == [1, 2]
