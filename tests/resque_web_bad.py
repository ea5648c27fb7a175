"""Malformed Resque data for dashboard tests: what other producers, buggy clients or a crashed
worker can leave in Redis. Shared by test_web_resque_bad_input.py and test_resque_fuzz.py."""

from __future__ import annotations

from typing import Any

LONG_QUEUE = "q" * 5000

BAD_PAYLOADS = [
    b"{not json",
    b'{"class":"Echo","args":["\xff\xfe"]}',
    b'{"class":NaN,"args":[Infinity]}',
    b"[" * 5000 + b"]" * 5000,
    b'{"class":"Echo","args":{"a":1}}',
    b'{"class":12,"args":"x"}',
    b'"just a string"',
    b'{"class":"Ec\\u0000ho\\ud800","args":[]}',
    b"\x00\x01\x02",
    b'{"class":"' + b"A" * 100_000 + b'","args":[]}',
]

BAD_FAILURES = [
    b"{not json",
    b"\xff\xfe",
    b'{"failed_at":12,"payload":"raw","exception":["x"],"error":{"a":1},"backtrace":"oops","worker":null,"queue":5}',
    b'{"payload":{"class":NaN,"args":[]},"backtrace":[1,2,{"x":NaN}]}',
    b"[1,2,3]",
    b'{"payload":[' * 3000 + b"]}" * 3000,
]


def seed(r: Any) -> None:
    """Fill the resque:* keys of the client's database with malformed entries of every kind."""
    r.sadd("resque:queues", "bad", LONG_QUEUE, b"\xffbin", "")
    r.rpush("resque:queue:bad", *BAD_PAYLOADS)
    r.rpush("resque:queue:" + LONG_QUEUE, b'{"class":"Echo","args":[1]}', b"{nope")
    r.rpush(b"resque:queue:\xffbin", b"\xff")
    r.rpush("resque:failed", *BAD_FAILURES)
    r.sadd("resque:workers", "host:1:bad", b"\xff:2:q", "nocolons")
    r.set("resque:worker:host:1:bad", b'{"queue":"bad","run_at":5,"payload":"\xff"}')
    r.set("resque:worker:nocolons", b"[" * 5000)
    r.hset("resque:workers:heartbeat", mapping={"host:1:bad": "not a time", "nocolons": "\xff"})
    r.set("resque:stat:processed", "lots")
    r.set("resque:stat:failed", "1e3")
    r.set("resque:stat:processed:host:1:bad", "NaN")
    r.zadd("resque:delayed_queue_schedule", {"soon": 1, "nan": 2, "1700000000": 1700000000,
                                             "9" * 40: 3})
    r.rpush("resque:delayed:1700000000", b"{bad", b'{"class":"Echo","args":[NaN],"queue":"x"}',
            b'{"class":"Echo","args":[1],"queue":"default"}')
    r.rpush("resque:delayed:soon", b'{"class":"Echo","args":[2],"queue":"default"}')
    r.sadd("resque:timestamps:{bad", "delayed:nan", "delayed:" + "9" * 40)
