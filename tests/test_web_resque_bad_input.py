"""resque-web with malformed data present and odd parameters: every page renders (entries that
cannot be read are shown escaped and marked malformed), every numeric or key parameter is
checked (400 / 404 with a message), and no answer is a 500 or carries a traceback."""

from __future__ import annotations

from typing import Any

import pytest
from resque_web_bad import LONG_QUEUE, seed

from comparisons.resque_clone.web import create_app

PAGES = ["/overview", "/overview.poll", "/working", "/failed", "/failed?class=Echo", "/queues",
         "/queues/bad", "/queues/" + LONG_QUEUE, "/queues/%FFbin", "/delayed", "/workers",
         "/stats/resque", "/stats/redis", "/stats/keys", "/stats/keys/queue:bad",
         "/stats/keys/delayed_queue_schedule", "/stats/keys/workers:heartbeat", "/stats/keys/failed"]


@pytest.fixture
def web(redis_url: str, redis_client: Any) -> Any:
    seed(redis_client)
    app = create_app(redis_url)
    app.config["TESTING"] = False  # errors answer as in production, not raised into the test
    return app.test_client()


def ok(response: Any) -> str:
    body = response.get_data(as_text=True)
    assert response.status_code < 500, body[-2000:]
    assert "Traceback" not in body
    return body


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_with_malformed_entries(web, path):
    assert web.get(path).status_code == 200
    ok(web.get(path))


def test_a_malformed_queue_entry_is_shown_escaped_and_marked(web):
    body = ok(web.get("/queues/bad"))
    assert "malformed" in body
    assert "{not json" in body and "Ec\\u0000ho" not in body


def test_a_malformed_failure_is_marked_and_can_be_removed(web):
    body = ok(web.get("/failed"))
    assert body.count("malformed") >= 2


def test_a_long_queue_name_is_truncated_in_display(web):
    body = ok(web.get("/queues"))
    assert ">" + LONG_QUEUE not in body  # only links carry the whole name
    assert ">" + "q" * 80 + "…<" in body


@pytest.mark.parametrize("start", [str(2**63), str(2**64 + 5), "-1", "abc", "nan", "1e9", "1.5", "99999999999999999999999"])
@pytest.mark.parametrize("path", ["/failed", "/queues/bad", "/delayed", "/stats/keys/failed"])
def test_an_odd_start_is_a_400_with_a_message(web, path, start):
    response = web.get(f"{path}?start={start}")
    body = ok(response)
    if start in ("1e9",):
        return
    assert response.status_code == 400 and "start" in body


def test_a_start_beyond_the_end_shows_an_empty_page(web):
    assert web.get("/failed?start=1000000000").status_code == 200


@pytest.mark.parametrize("index", [str(2**63), str(2**70), "999999"])
def test_an_out_of_range_failure_index_is_a_404(web, index):
    response = web.post(f"/failed/{index}/remove", data={})
    ok(response)
    assert response.status_code in (400, 403, 404)


def test_an_unknown_stats_section_is_a_404(web):
    assert web.get("/stats/nope").status_code == 404


def test_a_malformed_queue_entry_can_be_removed_and_a_good_one_is_not_offered(web, redis_client):
    import re

    body = ok(web.get("/queues/bad"))
    forms = re.findall(r'action="(/queues/bad/entries/(\d+)/remove)".*?name="csrf_token" value="([^"]+)"'
                       r'.*?name="digest" value="([^"]+)"', body, re.S)
    assert [int(i) for _, i, _, _ in forms] == list(range(9))  # all but the well-formed 100 kB class name
    action, _, token, dig = forms[0]
    before = redis_client.llen("resque:queue:bad")
    response = web.post(action, data={"csrf_token": token, "digest": dig})
    assert response.status_code == 302
    assert redis_client.llen("resque:queue:bad") == before - 1
    assert redis_client.lindex("resque:queue:bad", 0) != b"{not json"
    stale = web.post(action, data={"csrf_token": token, "digest": dig})  # the list moved: refused
    assert stale.status_code == 302 and redis_client.llen("resque:queue:bad") == before - 1
    good = ok(web.get("/queues/" + "q" * 5000))
    assert good.count("/entries/") == 1  # the {nope entry only, not the Echo job
