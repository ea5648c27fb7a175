"""The scheduled poller: atomic pops of due jobs from `schedule` and `retry`, until none is due."""

from __future__ import annotations

import json
import time

import redis

from comparisons.sidekiq_clone import keys
from comparisons.sidekiq_clone.middleware import Chain
from comparisons.sidekiq_clone.scheduled import Enq, Poller


def member(jid: str, queue: str = "default", **extra: object) -> str:
    return keys.dumps(keys.job("Recorder", [jid], queue, jid=jid, **extra))


def test_one_pass_moves_every_due_job_and_leaves_future_ones(redis_client: redis.Redis) -> None:
    now = time.time()
    redis_client.zadd("schedule", {member(f"s{i}"): now - 10 + i for i in range(5)})
    future = member("future")
    redis_client.zadd("schedule", {future: now + 60})
    redis_client.zadd("retry", {member("r0", "low", retry_count=0): now - 1})
    enq = Enq(redis_client)
    enq.client.middleware = Chain()
    assert enq.enqueue_jobs() == 6
    moved = [json.loads(j)["jid"] for j in reversed(redis_client.lrange("queue:default", 0, -1))]
    assert moved == ["s0", "s1", "s2", "s3", "s4"]  # oldest due first
    (retried,) = [json.loads(j) for j in redis_client.lrange("queue:low", 0, -1)]
    assert retried["jid"] == "r0" and retried["retry_count"] == 0
    assert redis_client.zrange("schedule", 0, -1) == [future.encode()]
    assert redis_client.smembers("queues") == {b"default", b"low"}


def test_a_moved_job_gets_a_fresh_enqueued_at(redis_client: redis.Redis) -> None:
    redis_client.zadd("schedule", {member("a"): time.time() - 1})
    before = time.time()
    Enq(redis_client).enqueue_jobs()
    job = json.loads(redis_client.lrange("queue:default", 0, -1)[0])
    assert job["enqueued_at"] >= before and "at" not in job


def test_an_invalid_member_goes_to_the_dead_set(redis_client: redis.Redis) -> None:
    redis_client.zadd("schedule", {"{broken": time.time() - 1, member("ok"): time.time() - 1})
    Enq(redis_client).enqueue_jobs()
    [dead] = [json.loads(raw) for raw in redis_client.zrange("dead", 0, -1)]
    assert dead["payload"] == "{broken" and "not valid JSON" in dead["error_message"]
    assert redis_client.llen("queue:default") == 1


def test_two_pollers_never_move_the_same_job_twice(redis_client: redis.Redis) -> None:
    import threading

    redis_client.zadd("schedule", {member(f"j{i}"): time.time() - 1 for i in range(300)})
    enqs = [Enq(redis.Redis(connection_pool=redis_client.connection_pool)) for _ in range(3)]
    threads = [threading.Thread(target=e.enqueue_jobs) for e in enqs]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    jids = [json.loads(j)["jid"] for j in redis_client.lrange("queue:default", 0, -1)]
    assert sorted(jids) == sorted(f"j{i}" for i in range(300))


def test_poll_interval_is_random_around_the_average(redis_client: redis.Redis) -> None:
    poller = Poller(redis_client, poll_interval_average=2.0)
    waits = [poller.random_poll_interval() for _ in range(500)]
    assert 1.0 <= min(waits) < 1.2 and 2.8 < max(waits) <= 3.0  # [avg / 2, avg * 1.5]
    assert 0 <= poller.initial_wait() <= 2.0


def test_default_average_is_five_seconds_per_process(redis_client: redis.Redis) -> None:
    redis_client.sadd("processes", "a:1:x", "b:2:y", "c:3:z")
    assert Poller(redis_client).poll_interval_average() == 15.0
    assert 10 <= Poller(redis_client).initial_wait() <= 15


def test_the_poller_thread_moves_jobs_and_stops_promptly(redis_client: redis.Redis) -> None:
    poller = Poller(redis_client, poll_interval_average=0.05)
    poller.start()
    try:
        redis_client.zadd("schedule", {member("t"): time.time() + 0.2})
        deadline = time.monotonic() + 5
        while redis_client.llen("queue:default") == 0 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert redis_client.llen("queue:default") == 1
    finally:
        t0 = time.monotonic()
        poller.terminate()
        assert time.monotonic() - t0 < 1 and poller.thread and not poller.thread.is_alive()
