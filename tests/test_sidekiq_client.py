"""The Sidekiq clone's client: exact keys and payloads, scheduling, bulk, middleware, JSON-only."""

from __future__ import annotations

import json
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import redis

from comparisons.sidekiq_clone import keys
from comparisons.sidekiq_clone.client import Client, InvalidJob
from comparisons.sidekiq_clone.middleware import Chain
from comparisons.sidekiq_clone.worker import Worker


class Mailer(Worker):
    sidekiq_options = {"queue": "mail", "retry": 5, "tags": ["email"]}

    def perform(self, user_id: int) -> None:
        pass


class UrgentMailer(Mailer):
    sidekiq_options = {"queue": "urgent"}


@pytest.fixture
def client(redis_url: str, redis_client: redis.Redis) -> Client:
    """Worker.perform_async pushes through the process default: point it at the test's Redis."""
    from comparisons.sidekiq_clone import connection

    connection.configure(redis_url)
    return Client(redis_client, middleware=Chain())


def only_payload(r: redis.Redis, queue: str) -> dict[str, Any]:
    raw = r.lrange(f"queue:{queue}", 0, -1)
    assert len(raw) == 1
    return json.loads(raw[0])


def test_perform_async_writes_sidekiq_keys_and_payload(client: Client, redis_client: redis.Redis) -> None:
    before = time.time()
    jid = Mailer.perform_async(42)
    assert re.fullmatch(r"[0-9a-f]{24}", jid or "")
    assert redis_client.smembers("queues") == {b"mail"}
    assert redis_client.type("queue:mail") == b"list"
    raw = redis_client.lrange("queue:mail", 0, -1)[0]
    assert b" " not in raw  # compact JSON
    job = json.loads(raw)
    assert list(job)[:6] == ["class", "args", "retry", "queue", "jid", "created_at"]
    assert job["class"] == "Mailer" and job["args"] == [42] and job["retry"] == 5
    assert job["queue"] == "mail" and job["jid"] == jid and job["tags"] == ["email"]
    assert isinstance(job["created_at"], float) and isinstance(job["enqueued_at"], float)
    assert before <= job["created_at"] <= job["enqueued_at"] <= time.time()


def test_options_merge_down_the_class_hierarchy() -> None:
    assert UrgentMailer.get_sidekiq_options() == {"retry": 5, "queue": "urgent", "tags": ["email"]}


def test_set_queue_chains_into_perform_async(client: Client, redis_client: redis.Redis) -> None:
    Mailer.set(queue="low").set(retry=False).perform_async(1)
    job = only_payload(redis_client, "low")
    assert job["queue"] == "low" and job["retry"] is False
    assert redis_client.llen("queue:mail") == 0


def test_fifo_lpush_then_brpop_order(client: Client, redis_client: redis.Redis) -> None:
    for i in range(3):
        Mailer.perform_async(i)
    popped = [json.loads(redis_client.brpop(["queue:mail"], 1)[1])["args"][0] for _ in range(3)]
    assert popped == [0, 1, 2]


@pytest.mark.parametrize("interval", [30, 30.0, timedelta(seconds=30)])
def test_perform_in_goes_to_the_schedule_set(client: Client, redis_client: redis.Redis,
                                             interval: Any) -> None:
    jid = Mailer.perform_in(interval, 7)
    assert redis_client.llen("queue:mail") == 0
    (member, score), = redis_client.zrange("schedule", 0, -1, withscores=True)
    job = json.loads(member)
    assert job["jid"] == jid and "at" not in job and "enqueued_at" not in job
    assert abs(score - (time.time() + 30)) < 2


def test_perform_at_takes_an_absolute_time(client: Client, redis_client: redis.Redis) -> None:
    when = datetime.now(UTC) + timedelta(hours=1)
    Mailer.perform_at(when, 1)
    Mailer.perform_at(when.timestamp(), 2)
    scores = [s for _, s in redis_client.zrange("schedule", 0, -1, withscores=True)]
    assert all(abs(s - when.timestamp()) < 0.01 for s in scores) and len(scores) == 2


def test_perform_in_the_past_pushes_at_once(client: Client, redis_client: redis.Redis) -> None:
    Mailer.perform_in(-5, 1)
    Mailer.perform_at(time.time() - 60, 2)
    assert redis_client.zcard("schedule") == 0
    assert redis_client.llen("queue:mail") == 2


def test_push_bulk_is_one_lpush_with_distinct_jids(client: Client, redis_client: redis.Redis) -> None:
    jids = Mailer.push_bulk([[i] for i in range(250)], batch_size=100)
    assert len(set(jids)) == 250
    jobs = [json.loads(j) for j in redis_client.lrange("queue:mail", 0, -1)]
    assert sorted(j["args"][0] for j in jobs) == list(range(250))
    assert {j["jid"] for j in jobs} == set(jids)


def test_push_bulk_with_one_time_per_job(client: Client, redis_client: redis.Redis) -> None:
    at = [time.time() + 100, time.time() - 1]
    client.push_bulk({"class": "Mailer", "args": [[1], [2]], "at": at, "queue": "mail"})
    assert redis_client.zcard("schedule") == 1 and redis_client.llen("queue:mail") == 1


@pytest.mark.parametrize("bad, where", [
    (object(), "args[0] is a object"),
    ((1, 2), "args[0] is a tuple"),
    ({1: "x"}, "non-string key 1"),
    (float("nan"), "not a finite number"),
    ({"when": datetime.now()}, "is a datetime"),
])
def test_non_json_arguments_are_refused_and_nothing_is_pushed(
        client: Client, redis_client: redis.Redis, bad: Any, where: str) -> None:
    with pytest.raises(InvalidJob) as err:
        Mailer.perform_async(bad)
    assert "native JSON" in str(err.value) and where in str(err.value)
    assert "Pass ids, not objects" in str(err.value)
    assert redis_client.dbsize() == 0 or redis_client.llen("queue:mail") == 0


def test_args_must_be_a_list(client: Client) -> None:
    with pytest.raises(InvalidJob, match="'args' must be a list"):
        client.push({"class": "Mailer", "args": "oops"})


def test_client_middleware_can_change_or_stop_a_push(redis_client: redis.Redis) -> None:
    class Stamp:
        def call(self, worker_class: Any, job: dict[str, Any], queue: str, r: Any, yield_: Any) -> Any:
            job["stamped"] = True
            return yield_()

    class DropOdd:
        def call(self, worker_class: Any, job: dict[str, Any], queue: str, r: Any, yield_: Any) -> Any:
            if job["args"][0] % 2:
                return None  # not yielding: the job is not pushed
            return yield_()

    chain = Chain()
    chain.add(Stamp)
    chain.add(DropOdd())
    c = Client(redis_client, middleware=chain)
    assert c.push({"class": Mailer, "args": [1]}) is None
    assert c.push({"class": Mailer, "args": [2]})
    job = only_payload(redis_client, "mail")
    assert job["args"] == [2] and job["stamped"] is True


def test_string_class_names_push_with_sidekiq_defaults(client: Client, redis_client: redis.Redis) -> None:
    client.push({"class": "Some::RubyJob", "args": []})
    job = only_payload(redis_client, "default")
    assert job["class"] == "Some::RubyJob" and job["retry"] is True and job["queue"] == "default"


def test_keys_module_names_every_key() -> None:
    assert keys.queue("x") == "queue:x" and keys.work("h:1:ab") == "h:1:ab:work"
    assert keys.signals("h:1:ab") == "h:1:ab-signals"
    assert keys.daily("stat:processed", 0) == "stat:processed:1970-01-01"
    assert re.fullmatch(r".+:\d+:[0-9a-f]{12}", keys.new_identity("host"))
