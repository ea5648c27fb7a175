"""Fetch: BRPOP order (strict, weighted random), reliable fetch's private list and recovery."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from comparisons.sidekiq_clone import keys
from comparisons.sidekiq_clone.fetch import (
    BasicFetch,
    ReliableFetch,
    parse_queues,
    recover_orphans,
)


@pytest.fixture
def conn(redis_client: redis.Redis) -> Iterator[Any]:
    """A raw connection, as a processor thread holds one."""
    c = redis_client.connection_pool.get_connection()
    yield c
    redis_client.connection_pool.release(c)


def fill(r: redis.Redis, queue: str, n: int) -> None:
    r.lpush(keys.queue(queue), *[json.dumps({"class": "X", "args": [i], "queue": queue, "jid": f"{queue}{i}"})
                                 for i in range(n)])


def test_parse_queues_strict_without_weights() -> None:
    assert parse_queues(["critical", "default"]) == (["critical", "default"], True)


def test_parse_queues_weighted_repeats_each_queue() -> None:
    assert parse_queues(["high,3", "default"]) == (["high", "high", "high", "default"], False)


@pytest.mark.parametrize("specs, message", [
    (["a", "a"], "cannot be defined twice"),
    (["a,x"], "must be an integer"),
    ([","], "empty queue name"),
])
def test_parse_queues_rejects_bad_specs(specs: list[str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_queues(specs)


def test_strict_order_always_empties_the_first_queue_first(redis_client: redis.Redis, conn: Any) -> None:
    fill(redis_client, "critical", 5)
    fill(redis_client, "default", 5)
    fetch = BasicFetch(redis_client, ["critical", "default"], strict=True)
    order = [fetch.retrieve_work(conn).queue_name for _ in range(10)]
    assert order == ["critical"] * 5 + ["default"] * 5


def test_weighted_order_shares_fetches_by_weight(redis_client: redis.Redis, conn: Any) -> None:
    n = 1200
    fill(redis_client, "high", n)
    fill(redis_client, "default", n)
    queues, strict = parse_queues(["high,3", "default,1"])
    fetch = BasicFetch(redis_client, queues, strict)
    counts = Counter(fetch.retrieve_work(conn).queue_name for _ in range(n))
    share = counts["high"] / n  # high comes first in a shuffle of [h, h, h, d] 3 times in 4
    assert 0.70 <= share <= 0.80, counts
    assert counts["default"] > 0  # never starved


def test_basic_fetch_takes_the_job_out_of_redis(redis_client: redis.Redis, conn: Any) -> None:
    fill(redis_client, "default", 1)
    work = BasicFetch(redis_client, ["default"], True).retrieve_work(conn)
    assert work is not None and json.loads(work.job)["jid"] == "default0"
    assert redis_client.dbsize() == 0


def test_basic_requeue_puts_jobs_at_the_front(redis_client: redis.Redis, conn: Any) -> None:
    fill(redis_client, "default", 3)
    fetch = BasicFetch(redis_client, ["default"], True)
    work = fetch.retrieve_work(conn)
    fetch.bulk_requeue([work])
    assert fetch.retrieve_work(conn).job == work.job


def test_reliable_fetch_keeps_the_job_in_a_private_list_until_acknowledged(
        redis_client: redis.Redis, conn: Any) -> None:
    fill(redis_client, "default", 2)
    fetch = ReliableFetch(redis_client, ["default"], True, "host:1:abcdef012345")
    work = fetch.retrieve_work(conn)
    assert redis_client.lrange("inprogress:host:1:abcdef012345", 0, -1) == [work.raw]
    fetch.acknowledge(conn, work)
    assert redis_client.llen("inprogress:host:1:abcdef012345") == 0
    assert redis_client.llen("queue:default") == 1


def test_reliable_fetch_over_several_queues_keeps_strict_order(
        redis_client: redis.Redis, conn: Any) -> None:
    fill(redis_client, "low", 2)
    fill(redis_client, "high", 2)
    fetch = ReliableFetch(redis_client, ["high", "low"], True, "host:1:abcdef012345")
    got = [fetch.retrieve_work(conn).queue_name for _ in range(4)]
    assert got == ["high", "high", "low", "low"]
    assert redis_client.llen("inprogress:host:1:abcdef012345") == 4


def test_recovery_gives_back_jobs_of_processes_without_heartbeat(redis_client: redis.Redis) -> None:
    redis_client.lpush("inprogress:gone:99:aaaaaaaaaaaa", json.dumps({"queue": "q1", "jid": "a"}),
                       "not json")
    assert recover_orphans(redis_client, "me:1:bbbbbbbbbbbb") == 2
    assert [json.loads(j)["jid"] for j in redis_client.lrange("queue:q1", 0, -1)] == ["a"]
    assert redis_client.sismember("queues", "q1")
    assert redis_client.zrange("dead", 0, -1) == [b"not json"]
    assert not redis_client.exists("inprogress:gone:99:aaaaaaaaaaaa")


def test_recovery_leaves_live_processes_alone(redis_client: redis.Redis) -> None:
    import os
    import socket

    alive = f"{socket.gethostname()}:{os.getpid()}:cccccccccccc"
    redis_client.hset(alive, "beat", "1")
    redis_client.lpush(keys.inprogress(alive), json.dumps({"queue": "q", "jid": "b"}))
    assert recover_orphans(redis_client, "me:1:bbbbbbbbbbbb") == 0
    assert redis_client.llen(keys.inprogress(alive)) == 1


def test_recovery_treats_a_dead_local_pid_as_gone_even_with_a_fresh_heartbeat(
        redis_client: redis.Redis) -> None:
    import socket

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = f"{socket.gethostname()}:{child.pid}:dddddddddddd"
    redis_client.hset(dead, "beat", "1")
    redis_client.lpush(keys.inprogress(dead), json.dumps({"queue": "q", "jid": "c"}))
    assert recover_orphans(redis_client, "me:1:bbbbbbbbbbbb") == 1
    assert redis_client.llen("queue:q") == 1
