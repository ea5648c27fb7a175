"""The Resque clone writes Resque 2.x's keys, types and JSON bytes exactly (wire-formats.md)."""

from __future__ import annotations

import json
import re
import socket
import time

import pytest
from resque_jobs import (
    Boom,
    Echo,
    Guarded,
    Renamed,
    Sleeper,
)
from system_helpers import wait_for

from comparisons.resque_clone.keys import Keys, NonJsonArgument, retry_identifier
from comparisons.resque_clone.registry import class_name


def test_enqueue_is_sadd_queues_and_rpush_of_compact_json(resque, redis_client):
    resque.enqueue(Echo, 44, "masterbrew")
    assert redis_client.type("resque:queues") == b"set"
    assert redis_client.smembers("resque:queues") == {b"default"}
    assert redis_client.type("resque:queue:default") == b"list"
    assert redis_client.lrange("resque:queue:default", 0, -1) == [b'{"class":"Echo","args":[44,"masterbrew"]}']


def test_utf8_is_written_as_is_not_escaped(resque, redis_client):
    resque.enqueue(Echo, "café/ü")
    assert redis_client.lindex("resque:queue:default", 0) == '{"class":"Echo","args":["café/ü"]}'.encode()


def test_non_json_argument_is_refused_with_advice_and_writes_nothing(resque, redis_client):
    with pytest.raises(NonJsonArgument, match="Pass an id, not an object"):
        resque.enqueue(Echo, object())
    with pytest.raises(NonJsonArgument):
        resque.enqueue(Echo, float("nan"))
    assert redis_client.keys("*") == []


def test_class_name_is_ruby_style_and_overridable(resque, redis_client):
    class Outer:
        class Inner:
            queue = "x"

            @staticmethod
            def perform() -> None: ...

    assert class_name(Outer.Inner).endswith("Outer::Inner")
    resque.enqueue(Renamed, 1)
    assert redis_client.lrange("resque:queue:archive", 0, -1) == [b'{"class":"Archive::Deliver","args":[1]}']


def test_enqueue_hooks_can_cancel_and_observe(resque, redis_client):
    Guarded.enqueued.clear()
    assert resque.enqueue(Guarded, "refuse") is False
    assert resque.size("default") == 0
    assert resque.enqueue(Guarded, "ok") is True
    assert Guarded.enqueued == ["ok"]


def test_dequeue_removes_by_exact_value(resque):
    resque.enqueue(Echo, 1)
    resque.enqueue(Echo, 2)
    resque.enqueue(Echo, 1)
    assert resque.dequeue(Echo, 1) == 2
    assert resque.peek("default", 0, 10) == [{"class": "Echo", "args": [2]}]
    assert resque.dequeue(Echo) == 1
    assert resque.size("default") == 0


def test_queue_listing_peek_and_removal(resque, redis_client):
    resque.enqueue_to("b", Echo, 1)
    resque.enqueue_to("a", Echo, 2)
    assert resque.queues() == ["a", "b"]
    assert resque.peek("b") == [{"class": "Echo", "args": [1]}]
    resque.remove_queue("b")
    assert resque.queues() == ["a"] and not redis_client.exists("resque:queue:b")


def test_delayed_job_uses_the_resque_scheduler_layout(resque, redis_client):
    ts = int(time.time()) + 3600
    resque.enqueue_at(ts, Echo, 7)
    item = b'{"class":"Echo","args":[7],"queue":"default"}'
    assert redis_client.type("resque:delayed_queue_schedule") == b"zset"
    assert redis_client.zrange("resque:delayed_queue_schedule", 0, -1, withscores=True) == [(str(ts).encode(), ts)]
    assert redis_client.lrange(f"resque:delayed:{ts}", 0, -1) == [item]
    assert redis_client.smembers(b"resque:timestamps:" + item) == {f"delayed:{ts}".encode()}
    assert resque.remove_delayed(Echo, 7) == 1
    assert redis_client.keys("resque:delayed*") == [] and redis_client.keys("resque:timestamps:*") == []


def test_retry_counter_key_is_sha1_of_args_joined_by_dash():
    # Ruby: Digest::SHA1.hexdigest([44, "masterbrew", [], nil].join('-')) == sha1("44-masterbrew--")
    import hashlib

    assert retry_identifier([44, "masterbrew", [], None]) == hashlib.sha1(b"44-masterbrew--").hexdigest()
    assert Keys().retry_counter("My Job", []) == "resque:resque-retry:MyJob"


def test_working_key_registration_and_heartbeat_shapes(resque, resque_worker, redis_client, run_dir):
    worker = resque_worker("--queue", "default,*", "--interval", "0.1")
    wid = f"{socket.gethostname()}:{worker.pid}:default,*"
    assert redis_client.smembers("resque:workers") == {wid.encode()}
    started = redis_client.get(f"resque:worker:{wid}:started").decode()
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}", started)
    beat = wait_for(lambda: redis_client.hget("resque:workers:heartbeat", wid))
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-]\d\d:\d\d|Z)", beat.decode())

    resque.enqueue(Sleeper, 0.5, "w")
    raw = wait_for(lambda: redis_client.get(f"resque:worker:{wid}"), what="worker:<id>")
    assert re.fullmatch(
        rb'\{"queue":"default","run_at":"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ",'
        rb'"payload":\{"class":"Sleeper","args":\[0\.5,"w"\]\}\}', raw), raw
    wait_for(lambda: redis_client.get("resque:stat:processed") == b"1", what="processed stat")
    assert not redis_client.exists(f"resque:worker:{wid}")
    assert redis_client.get(f"resque:stat:processed:{wid}") == b"1"


def test_failure_record_fields_and_stats(resque, resque_worker, redis_client):
    resque.enqueue(Boom, "kaput")
    worker = resque_worker("--queue", "default", "--interval", "0", wait=False)
    assert worker.wait() == 0, worker.output()
    wid = f"{socket.gethostname()}:{worker.pid}:default"
    [raw] = redis_client.lrange("resque:failed", 0, -1)
    record = json.loads(raw)
    assert list(record) == ["failed_at", "payload", "exception", "error", "backtrace", "worker", "queue"]
    assert re.fullmatch(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d \S+", record["failed_at"])
    assert record["payload"] == {"class": "Boom", "args": ["kaput"]}
    assert record["exception"] == "RuntimeError" and record["error"] == "boom: kaput"
    assert record["backtrace"] and "resque_jobs.py" in record["backtrace"][-1]
    assert record["worker"] == wid and record["queue"] == "default"
    assert raw.startswith(b'{"failed_at":') and b'": ' not in raw  # compact
    assert redis_client.get("resque:stat:failed") == b"1"
    assert redis_client.get("resque:stat:processed") == b"1"  # a failed job counts as processed
    # the worker unregistered on exit: per-worker stats and keys are gone
    assert redis_client.smembers("resque:workers") == set()
    assert not redis_client.exists(f"resque:stat:failed:{wid}", f"resque:worker:{wid}:started")
