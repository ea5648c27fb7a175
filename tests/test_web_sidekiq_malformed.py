"""The Sidekiq clone's dashboard with malformed data in Redis and odd parameters: every page
renders (malformed entries shown escaped and marked), every parameter is validated (400 / 404
with a message), never a 500, never a traceback in a body. Flask's test client on real Redis."""

from __future__ import annotations

import json
from typing import Any

import pytest
import redis

from comparisons.sidekiq_clone.web import create_app

LONG = "q" * 5000
DEEP = b"[" * 5000 + b"]" * 5000
BAD_JOBS = [
    b"\xff\xfe not utf-8",
    b"{truncated",
    b"[1,2]",
    b'{"class":NaN,"args":[NaN]}',
    b'{"class":42,"args":"x","jid":[1],"enqueued_at":"yesterday"}',
    b'{"class":"Deep","args":' + DEEP + b',"jid":"deep1"}',
    b'{"class":"Big","args":[],"jid":"big1","enqueued_at":1e308,"created_at":-1e308}',
    b'{"class":"Odd","args":[],"jid":"odd","retry_count":"x","error_backtrace":"!!"}',
    b'{"class":"<script>alert(1)</script>","args":["\\ud800"],"jid":"x1"}',
]
PAGES = ["/", "/busy", "/queues", "/queues/default", f"/queues/{LONG}", "/retries", "/scheduled",
         "/morgue", "/stats", "/stats/queues", "/dashboard.poll"]


@pytest.fixture
def malformed(redis_client: redis.Redis) -> redis.Redis:
    """Every place the dashboard reads holds something odd."""
    r = redis_client
    r.sadd("queues", "default", LONG, "not-a-list", "\xff".encode("latin-1"))
    r.lpush("queue:default", *BAD_JOBS)  # the oldest job of the queue is malformed too
    r.lpush(f"queue:{LONG}", b'{"class":"A","args":[],"jid":"l1"}')
    r.set("queue:not-a-list", "a string")
    for i, raw in enumerate(BAD_JOBS):
        for name in ("retry", "schedule", "dead"):
            r.zadd(name, {raw: 1_700_000_000 + i})
    r.zadd("dead", {b'{"class":"Inf","args":[],"jid":"inf1"}': float("inf")})
    r.set("stat:processed", "lots")
    r.sadd("processes", "ghost:1:abc", "host:2:def")
    r.hset("ghost:1:abc", mapping={"info": "{bad", "busy": "many", "beat": "then", "rss": "x"})
    r.hset("ghost:1:abc:work", mapping={"t1": "{bad", "t2": json.dumps({"queue": "q", "payload": "{bad", "run_at": 1e308})})
    r.set("host:2:def", "a string, not a hash")
    return r


@pytest.fixture
def web(redis_url: str) -> Any:
    app = create_app(redis_url)
    app.config["WTF_CSRF_ENABLED"] = False
    return app.test_client()


def assert_clean(response: Any, *allowed: int) -> None:
    body = response.get_data(as_text=True)
    assert response.status_code in allowed, (response.status_code, body[:500])
    assert "Traceback" not in body and 'File "' not in body


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_with_malformed_entries_present(
        malformed: redis.Redis, web: Any, path: str) -> None:
    assert_clean(web.get(path), 200)


def test_malformed_entries_are_shown_escaped_and_marked(malformed: redis.Redis, web: Any) -> None:
    body = web.get("/morgue").get_data(as_text=True)
    assert "malformed" in body
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body
    assert "xff\\\\xfe not utf-8" in web.get("/queues/default").get_data(as_text=True)  # JSON of the escaped text


def test_long_queue_names_are_truncated_in_display(malformed: redis.Redis, web: Any) -> None:
    body = web.get("/queues").get_data(as_text=True)
    assert LONG not in body.replace(f"/queues/{LONG}", "")  # the link keeps it, the text not
    assert "q" * 60 in body


ODD_NUMBERS = ["99999999999999999999999", "-5", "abc", str(2**64), "1e9", "", "0x10", "٣"]


@pytest.mark.parametrize("value", ODD_NUMBERS)
@pytest.mark.parametrize("page", ["/queues/default", "/retries", "/morgue", "/scheduled"])
def test_odd_start_parameters_are_refused_with_400(web: Any, page: str, value: str) -> None:
    response = web.get(page, query_string={"start": value})
    assert_clean(response, 400)
    assert "start must be a whole number" in response.get_data(as_text=True)


@pytest.mark.parametrize("value", [*ODD_NUMBERS, "0", "31000"])
def test_odd_days_parameters_are_refused_with_400(web: Any, value: str) -> None:
    response = web.get("/", query_string={"days": value})
    assert_clean(response, 400)
    assert "days must be one of" in response.get_data(as_text=True)


@pytest.mark.parametrize("key", ["nan-x", "NaN-x", "inf", "1e999999-x", "-", "x-y", "1-" + "j" * 5000])
@pytest.mark.parametrize("kind", ["retries", "scheduled", "morgue"])
def test_odd_entry_keys_answer_404_or_400(malformed: redis.Redis, web: Any, kind: str,
                                          key: str) -> None:
    assert_clean(web.get(f"/{kind}/{key}"), 404, 302)
    assert_clean(web.post(f"/{kind}/{key}", data={"action": "delete"}), 400, 302)
    assert_clean(web.post(f"/{kind}", data={"action": "delete", "key": key}), 400, 302)


def test_a_malformed_entry_can_be_deleted_but_not_retried(malformed: redis.Redis, web: Any) -> None:
    before = malformed.zcard("retry")
    page = web.get("/retries").get_data(as_text=True)
    assert 'data-key="1700000001.0-"' in page  # "{truncated", shown with an empty jid
    response = web.post("/retries/1700000001.0-", data={"action": "retry"})
    assert_clean(response, 302)
    assert malformed.zcard("retry") == before
    assert_clean(web.post("/retries/1700000001.0-", data={"action": "delete"}), 302)
    assert malformed.zcard("retry") == before - 1


def test_a_non_utf8_queue_entry_can_be_deleted(malformed: redis.Redis, web: Any) -> None:
    page = web.get("/queues/default").get_data(as_text=True)
    assert 'name="key_b64"' in page
    import base64

    key = base64.b64encode(BAD_JOBS[0]).decode()
    assert_clean(web.post("/queues/default/delete", data={"key_b64": key}), 302)
    assert BAD_JOBS[0] not in malformed.lrange("queue:default", 0, -1)


def test_all_actions_skip_malformed_entries(malformed: redis.Redis, web: Any) -> None:
    assert_clean(web.post("/morgue/all/retry"), 302)
    assert_clean(web.get("/morgue"), 200)
