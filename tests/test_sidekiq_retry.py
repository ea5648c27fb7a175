"""Retries exactly as Sidekiq: the backoff formula, retry options, hooks, the dead set."""

from __future__ import annotations

import json
import random
import time
from typing import Any

import pytest
import redis

from comparisons.sidekiq_clone import keys
from comparisons.sidekiq_clone.api import DeadSet
from comparisons.sidekiq_clone.retry import (
    JobRetry,
    death_handlers,
    decompress_backtrace,
    default_delay,
)
from comparisons.sidekiq_clone.worker import Worker


class Plain(Worker):
    def perform(self) -> None:
        pass


class Custom(Worker):
    sidekiq_retry_jitter_unit = 0.0
    answer: Any = None
    exhausted: list[Any] = []

    def sidekiq_retry_in(self, count: int, exc: BaseException) -> Any:
        return type(self).answer

    def sidekiq_retries_exhausted(self, job: dict[str, Any], exc: BaseException) -> None:
        type(self).exhausted.append((job["jid"], str(exc)))


def payload(**fields: Any) -> str:
    return keys.dumps(keys.job(fields.pop("klass", "Plain"), [1], "default", **fields))


def retry_entries(r: redis.Redis) -> list[tuple[dict[str, Any], float]]:
    return [(json.loads(m), s) for m, s in r.zrange("retry", 0, -1, withscores=True)]


@pytest.mark.parametrize("k", [0, 1, 2, 5, 10, 24])
def test_backoff_formula_bounds_and_jitter(k: int) -> None:
    rng = random.Random(k)
    delays = {default_delay(k, rng) for _ in range(400)}
    assert min(delays) == k**4 + 15 and max(delays) == k**4 + 15 + 9 * (k + 1)
    assert len(delays) == 10  # rand(10) * (k + 1): ten distinct values


def test_first_failure_writes_sidekiq_failure_fields(redis_client: redis.Redis) -> None:
    before = time.time()
    JobRetry(redis_client).handle(Plain(), payload(retry=True), "default", KeyError("boom"))
    (job, score), = retry_entries(redis_client)
    assert job["retry_count"] == 0 and job["error_class"] == "KeyError"
    assert job["error_message"] == "'boom'" and job["queue"] == "default"
    assert before <= job["failed_at"] <= time.time() and "retried_at" not in job
    assert before + 15 <= score <= time.time() + 15 + 9


def test_later_failure_counts_up_and_stamps_retried_at(redis_client: redis.Redis) -> None:
    jobstr = payload(retry=True, retry_count=3, failed_at=1.0)
    JobRetry(redis_client).handle(Plain(), jobstr, "default", RuntimeError("again"))
    (job, score), = retry_entries(redis_client)
    assert job["retry_count"] == 4 and job["failed_at"] == 1.0 and job["retried_at"] > 1
    now = time.time()
    assert now + 4**4 + 15 - 1 <= score <= now + 4**4 + 15 + 9 * 5


def test_retry_n_exhausts_to_the_dead_set_with_the_hook(redis_client: redis.Redis) -> None:
    Custom.answer, Custom.exhausted = None, []
    jobstr = payload(klass="Custom", retry=2, retry_count=1, jid="a" * 24)
    JobRetry(redis_client).handle(Custom(), jobstr, "default", RuntimeError("last"))
    assert redis_client.zcard("retry") == 0
    (dead,) = [json.loads(m) for m in redis_client.zrange("dead", 0, -1)]
    assert dead["retry_count"] == 2 and dead["error_message"] == "last"
    assert Custom.exhausted == [("a" * 24, "last")]


def test_retry_false_means_no_retry_and_no_dead_entry(redis_client: redis.Redis) -> None:
    died: list[Any] = []
    death_handlers.append(lambda job, exc: died.append(job["jid"]))
    try:
        JobRetry(redis_client).handle(Plain(), payload(retry=False, jid="b" * 24), "q", ValueError())
    finally:
        death_handlers.clear()
    assert redis_client.dbsize() == 0 and died == ["b" * 24]


def test_retry_zero_goes_straight_to_dead(redis_client: redis.Redis) -> None:
    JobRetry(redis_client).handle(Plain(), payload(retry=0), "q", ValueError("x"))
    assert redis_client.zcard("retry") == 0 and redis_client.zcard("dead") == 1


def test_dead_false_skips_the_morgue(redis_client: redis.Redis) -> None:
    JobRetry(redis_client).handle(Plain(), payload(retry=0, dead=False), "q", ValueError("x"))
    assert redis_client.dbsize() == 0


def test_retry_in_seconds_replaces_the_formula(redis_client: redis.Redis) -> None:
    Custom.answer = 120
    JobRetry(redis_client).handle(Custom(), payload(klass="Custom"), "q", ValueError("x"))
    (_, score), = retry_entries(redis_client)
    assert abs(score - (time.time() + 120)) < 1


def test_retry_in_discard_drops_the_job(redis_client: redis.Redis) -> None:
    Custom.answer, Custom.exhausted = "discard", []
    JobRetry(redis_client).handle(Custom(), payload(klass="Custom"), "q", ValueError("x"))
    assert redis_client.dbsize() == 0 and Custom.exhausted == []


def test_retry_in_kill_sends_the_job_to_dead_at_once(redis_client: redis.Redis) -> None:
    Custom.answer, Custom.exhausted = "kill", []
    JobRetry(redis_client).handle(Custom(), payload(klass="Custom"), "q", ValueError("x"))
    assert redis_client.zcard("retry") == 0 and redis_client.zcard("dead") == 1
    assert len(Custom.exhausted) == 1


def test_retry_queue_and_backtrace(redis_client: redis.Redis) -> None:
    try:
        raise OSError("disk")
    except OSError as exc:
        error = exc
    JobRetry(redis_client).handle(Plain(), payload(retry_queue="slow", backtrace=True), "q", error)
    (job, _), = retry_entries(redis_client)
    assert job["queue"] == "slow"
    lines = decompress_backtrace(job["error_backtrace"])
    assert any("test_retry_queue_and_backtrace" in line for line in lines)


def test_unknown_class_retries_with_the_payloads_own_options(redis_client: redis.Redis) -> None:
    from comparisons.sidekiq_clone.worker import UnknownJobClass

    JobRetry(redis_client).handle(None, payload(klass="Nope", retry=True), "q", UnknownJobClass("Nope"))
    (job, _), = retry_entries(redis_client)
    assert job["error_class"] == "UnknownJobClass"
    assert "must be restarted after new job code is added" in job["error_message"]


def test_dead_set_trims_old_and_excess_jobs(redis_client: redis.Redis) -> None:
    now = time.time()
    old = {f"old{i}": now - keys.DEAD_TIMEOUT_S - 10 for i in range(3)}
    many = {f"j{i}": now - 1000 + i * 0.01 for i in range(keys.DEAD_MAX_JOBS)}
    redis_client.zadd("dead", {**old, **many})
    DeadSet(redis_client).kill("newest", now)
    assert redis_client.zcard("dead") == keys.DEAD_MAX_JOBS
    assert redis_client.zscore("dead", "old0") is None and redis_client.zscore("dead", "j0") is None
    assert redis_client.zscore("dead", "newest") == now
