"""Bad payloads in a real Sidekiq clone worker on real Redis: whatever a foreign producer
writes into a queue, the `schedule` or the `retry` set, no thread dies and nothing vanishes.

A payload that cannot be decoded, parsed or validated ends in the dead set wrapped with the
reason (the raw payload kept, escaped); one that is a job runs by the normal retry rules even
when recording its failure is awkward (lone surrogates, a NUL in the class name, 1 MB values).
Every one is counted in stat:processed / stat:failed.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
import redis
from sidekiq_jobs import (  # noqa: F401 - sidekiq_server_fixture provides sidekiq_server
    events,
    sidekiq_server_fixture,
)
from system_helpers import wait_for

from comparisons.sidekiq_clone import keys
from comparisons.sidekiq_clone.client import Client

DEEP = 100_000  # deeper than any JSON parser's recursion
COPY_DEEP = 500  # parses, but copy.deepcopy of it recurses too deep

# name -> (raw payload, where it must end: "dead: <reason>" or "retry" / "dropped")
CASES: dict[str, tuple[bytes, str]] = {
    "invalid utf-8": (b'{"class":"Recorder","args":["\xff\xfe"],"jid":"u1"}', "dead: not UTF-8"),
    "random bytes": (b"\x89PNG\r\n\x1a\n\x00\xff\xd8", "dead: not UTF-8"),
    "truncated json": (b'{"class":"Recorder","args":[1', "dead: not valid JSON"),
    "not an object": (b"[1,2]", "dead: not a JSON object"),
    "NaN in args": (b'{"class":"Recorder","args":[NaN],"jid":"n0"}', "dead: not valid JSON"),
    "NaN as class": (b'{"class":NaN,"args":[]}', "dead: not valid JSON"),
    "number as class": (b'{"class":42,"args":[],"jid":"c1"}', "dead: 'class'"),
    "missing class": (b'{"args":[],"jid":"c2"}', "dead: 'class'"),
    "args not a list": (b'{"class":"Recorder","args":5}', "dead: 'args'"),
    "jid not a string": (b'{"class":"Recorder","args":[],"jid":[1]}', "dead: 'jid'"),
    "odd retry_count": (b'{"class":"AlwaysFails","args":["x"],"jid":"r1","retry_count":"abc"}',
                        "dead: 'retry_count'"),
    "odd backtrace": (b'{"class":"AlwaysFails","args":["x"],"jid":"b1","backtrace":"all"}',
                      "dead: 'backtrace'"),
    "odd retry": (b'{"class":"AlwaysFails","args":["x"],"jid":"b2","retry":"yes"}',
                  "dead: 'retry'"),
    "deep nesting": (b'{"class":"Recorder","args":' + b"[" * DEEP + b"]" * DEEP + b"}",
                     "dead: nested too deeply"),
    "lone surrogate": (b'{"class":"Nope","args":["\\ud800"],"jid":"s1","retry":true}', "retry"),
    "NUL in class": (b'{"class":"Bad\\u0000Name","args":[],"jid":"z1","retry":true}', "retry"),
    "1 MB class": (b'{"class":"' + b"K" * 1_000_000 + b'","args":[],"jid":"m1","retry":true}', "retry"),
    "1 MB arg": (b'{"class":"Nope","args":["' + b"x" * 1_000_000 + b'"],"jid":"m2","retry":true}', "retry"),
    "retry false": (b'{"class":"Nope","args":[],"jid":"f1","retry":false}', "dropped"),
}


def dead_entries(r: redis.Redis) -> list[dict[str, Any]]:
    return [json.loads(raw) for raw in r.zrange(keys.DEAD, 0, -1)]


def original(entry: dict[str, Any]) -> bytes:
    """The payload a dead wrapper kept: exactly, from payload_base64 when it was not UTF-8."""
    if "payload_base64" in entry:
        return base64.b64decode(entry["payload_base64"])
    return str(entry["payload"]).encode("utf-8", "surrogatepass")


def thread_deaths(log: str) -> int:
    return log.count("thread died") + log.count("Exception in thread")


@pytest.mark.parametrize("reliable", [False, True], ids=["basic", "reliable"])
def test_every_bad_payload_ends_in_dead_or_retry_and_every_good_job_runs(
        sidekiq_server: Any, redis_client: redis.Redis, reliable: bool) -> None:
    server = sidekiq_server("-c", "2", *(["--reliable"] if reliable else []))
    client = Client(redis_client)
    for i, (raw, _) in enumerate(CASES.values()):
        redis_client.lpush("queue:default", raw)
        client.push({"class": "Recorder", "args": [i]})
    wait_for(lambda: len(events(redis_client, "ran")) == len(CASES), 30, "every good job")
    expect_dead = {n: e.removeprefix("dead: ") for n, (_, e) in CASES.items() if e != "retry"
                   and e != "dropped"}
    wait_for(lambda: redis_client.zcard(keys.DEAD) == len(expect_dead), 10, "the dead entries")
    by_payload = {original(e): e for e in dead_entries(redis_client)}
    for name, reason in expect_dead.items():
        raw = CASES[name][0]
        assert raw in by_payload, f"{name}: not in the dead set"
        entry = by_payload[raw]
        assert reason in entry["error_message"], (name, entry["error_message"][:200])
        assert entry["malformed"] is True and entry["error_class"] == "InvalidJob"
    retried = {json.loads(r)["jid"] for r in redis_client.zrange(keys.RETRY, 0, -1)}
    assert retried == {"s1", "z1", "m1", "m2"}
    [surrogate] = [r for r in redis_client.zrange(keys.RETRY, 0, -1) if b"s1" in r]
    assert json.loads(surrogate)["args"] == ["\ud800"]
    bad = len(CASES)
    wait_for(lambda: redis_client.get("stat:failed") == str(bad).encode(), 5, "stat:failed")
    assert redis_client.get("stat:processed") == str(2 * bad).encode()
    assert thread_deaths(server.log_text()) == 0
    if reliable:
        assert redis_client.llen(keys.inprogress(server.identity)) == 0


def test_bad_entries_in_schedule_and_retry_go_to_dead_and_the_poller_survives(
        sidekiq_server: Any, redis_client: redis.Redis) -> None:
    server = sidekiq_server("-c", "2", poll=0.05)
    deep_copy = (b'{"class":"Recorder","args":' + b"[" * COPY_DEEP + b"]" * COPY_DEEP
                 + b',"jid":"d1","queue":"default"}')
    bad = {
        keys.SCHEDULE: [b"\xff\xfe not utf-8", b'{"class":"Recorder","args":[NaN]}', deep_copy],
        keys.RETRY: [b'{"class":"Recorder"', b'{"class":7,"args":[]}',
                     b'{"class":"Recorder","args":[],"jid":"q1","queue":["x"]}',
                     b'{"class":"Recorder","args":' + b"[" * DEEP + b"]" * DEEP + b"}"],
    }
    for zset, raws in bad.items():
        for raw in raws:
            redis_client.zadd(zset, {raw: 1})
    total = sum(len(r) for r in bad.values())
    wait_for(lambda: redis_client.zcard(keys.DEAD) == total, 10, "every bad entry in dead")
    kept = {original(e) for e in dead_entries(redis_client)}
    assert kept == {raw for raws in bad.values() for raw in raws}
    assert all(e["error_message"] for e in dead_entries(redis_client))
    assert redis_client.zcard(keys.SCHEDULE) == redis_client.zcard(keys.RETRY) == 0
    # the poller is still polling: a good scheduled job runs
    Client(redis_client).push({"class": "Recorder", "args": ["later"], "at": keys.now() + 0.2})
    wait_for(lambda: events(redis_client, "ran"), 10, "the scheduled good job")
    assert thread_deaths(server.log_text()) == 0
    assert "Scheduler exiting" not in server.log_text()
