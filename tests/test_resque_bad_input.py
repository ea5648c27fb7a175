"""Bad payloads never kill the Resque clone's worker: each one ends in the failed list (the raw
bytes kept, escaped so the record is valid JSON, with an exception class and a message), is
counted in stat:failed, and the good jobs queued after it run in the same worker process."""

from __future__ import annotations

import json

import pytest
from resque_jobs import events

BAD: dict[str, bytes] = {
    "nan class": b'{"class":NaN,"args":[1]}',
    "infinity arg": b'{"class":"Echo","args":[Infinity]}',
    "invalid utf-8": b'{"class":"Echo","args":["\xff\xfe"]}',
    "random bytes": bytes(range(256)),
    "deep nesting": b"[" * 100_000 + b"]" * 100_000,
    "deep nesting in args": b'{"class":"Echo","args":' + b"[" * 50_000 + b"]" * 50_000 + b"}",
    "lone surrogate": b'{"class":"Echo\\ud800","args":["\\udfff"]}',
    "nul in class": b'{"class":"Ec\\u0000ho","args":[]}',
    "class is a number": b'{"class":12,"args":[]}',
    "class is a list": b'{"class":["Echo"],"args":[]}',
    "args is an object": b'{"class":"Echo","args":{"a":1}}',
    "missing class": b'{"args":[1]}',
    "not an object": b'[1,2,3]',
    "truncated": b'{"class":"Echo","ar',
    "empty": b"",
    "1 MB class": b'{"class":"' + b"A" * 1_000_000 + b'","args":[]}',
    "odd retry": b'{"class":"Echo","args":[],"retry":{"x":NaN}}',
    "odd backtrace": b'{"class":"Nope","args":[],"backtrace":[1,{"a":Infinity}]}',
}


@pytest.mark.parametrize("fork", [True, False], ids=["fork", "no-fork"])
def test_bad_payloads_are_failed_counted_and_the_worker_runs_on(fork, resque_worker, redis_client, run_dir):
    for i, raw in enumerate(BAD.values()):
        redis_client.rpush("resque:queue:work", raw)
        redis_client.rpush("resque:queue:work", json.dumps({"class": "Echo", "args": [i]}))
    env = {} if fork else {"FORK_PER_JOB": "false"}
    worker = resque_worker("--queue", "work", "--interval", "0", env=env, wait=False)
    assert worker.wait(timeout=120) == 0, worker.output()[-3000:]
    assert sorted(e["args"][0] for e in events(run_dir, "echo")) == list(range(len(BAD)))
    raw_records = redis_client.lrange("resque:failed", 0, -1)
    assert len(raw_records) == len(BAD)
    records = [json.loads(r) for r in raw_records]  # every record is valid JSON
    for record in records:
        assert record["exception"] and record["error"], record
        assert record["queue"] == "work"
    assert int(redis_client.get("resque:stat:failed")) == len(BAD)
    assert "Traceback" not in worker.output()


def test_a_payload_that_is_not_json_keeps_its_raw_bytes_escaped(resque_worker, redis_client):
    redis_client.rpush("resque:queue:work", b'{"class":"Echo","args":["\xff"]')
    worker = resque_worker("--queue", "work", "--interval", "0", wait=False)
    assert worker.wait(timeout=60) == 0, worker.output()
    record = json.loads(redis_client.lindex("resque:failed", 0))
    assert record["exception"] == "InvalidPayload"
    assert record["payload"] == '{"class":"Echo","args":["\\xff"]'


def test_the_scheduler_thread_survives_bad_delayed_entries(resque_worker, redis_client, run_dir):
    redis_client.zadd("resque:delayed_queue_schedule", {"soon": 1, "1700000000": 1700000000})
    redis_client.rpush("resque:delayed:1700000000", b"{bad", b'{"class":"Echo","args":[NaN],"queue":"work"}',
                       b'"not an object"', b'{"class":"Echo","args":["due"],"queue":"work"}')
    worker = resque_worker("--queue", "work", "--interval", "0.05", "--with-scheduler", "--scheduler-interval", "0.1")
    from system_helpers import wait_for

    wait_for(lambda: [e["args"] for e in events(run_dir, "echo")] == [["due"]], what="the good delayed job")
    redis_client.zadd("resque:delayed_queue_schedule", {"1700000001": 1700000001})
    redis_client.rpush("resque:delayed:1700000001", b'{"class":"Echo","args":["later"],"queue":"work"}')
    wait_for(lambda: len(events(run_dir, "echo")) == 2, what="a delayed job added after the bad ones")
    records = [json.loads(r) for r in redis_client.lrange("resque:failed", 0, -1)]
    assert [r["exception"] for r in records] == ["InvalidPayload"] * 3
    assert records[0]["payload"] == "{bad" and records[0]["queue"] == "delayed:1700000000"
    assert worker.proc.poll() is None and "Traceback" not in worker.output()
