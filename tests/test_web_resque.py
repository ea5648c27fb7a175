"""The Resque clone's dashboard (resque-web), in a real headless Chromium, on a real Redis with
failures written by real clone workers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis
from web_support import AUTH, ROOT, get_with_basic_auth, host_app, served_url, shot, wait_for

from comparisons.resque_clone.web import create_app

XSS = "<script>window.__pwned = 1</script>"
JOB_FILE = '''
import time

class Slow:
    queue = "slow"

    @staticmethod
    def perform(seconds):
        time.sleep(seconds)
'''


def push(r: redis.Redis, queue: str, klass: str, *args: Any) -> None:
    r.sadd("resque:queues", queue)
    r.rpush(f"resque:queue:{queue}", json.dumps({"class": klass, "args": list(args)}, separators=(",", ":")))


def drain(redis_url: str, *extra: str) -> None:
    """Run a real clone worker until the queues are empty (INTERVAL 0), then it exits."""
    subprocess.run(
        [sys.executable, "-m", "comparisons.resque_clone", "work", "--redis", redis_url,
         "--queue", "*", "--interval", "0", *extra],
        cwd=ROOT, check=True, capture_output=True, timeout=60,
    )


@pytest.fixture
def failed_job(redis_url: str, redis_client: redis.Redis) -> None:
    """One failure on the failed list, written by a real worker that lacks the job class."""
    push(redis_client, "snippets", "Highlighter", 41)
    drain(redis_url)
    assert redis_client.llen("resque:failed") == 1


def test_retry_puts_the_failed_job_back_on_its_queue(failed_job: None, dashboard: Any,
                                                    browser_page: Any, redis_client: redis.Redis) -> None:
    page = browser_page()
    page.goto(dashboard() + "/failed")
    row = page.locator("tr.failure")
    assert "NameError" in row.inner_text()
    assert "restart the worker" in row.inner_text()
    shot(page, "resque-failed")
    row.get_by_role("button", name="Retry", exact=True).click()
    page.wait_for_selector(".flash.ok")
    assert "requeued" in page.inner_text(".flash.ok")
    assert "retried" in page.locator("tr.failure").inner_text()
    assert redis_client.lrange("resque:queue:snippets", 0, -1) == [b'{"class":"Highlighter","args":[41]}']
    record = json.loads(redis_client.lindex("resque:failed", 0))
    assert record["retried_at"]  # the record stays, stamped, as upstream does


def test_retried_job_runs_on_a_worker_that_has_the_class(failed_job: None, dashboard: Any, browser_page: Any,
                                                        redis_url: str, redis_client: redis.Redis,
                                                        tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.py"
    done = tmp_path / "done"
    jobs.write_text("class Highlighter:\n    queue = 'snippets'\n\n    @staticmethod\n"
                    f"    def perform(n):\n        open({str(done)!r}, 'w').write(str(n))\n")
    page = browser_page()
    page.goto(dashboard() + "/failed")
    page.get_by_role("button", name="Retry", exact=True).click()
    page.wait_for_selector(".flash.ok")
    drain(redis_url, "--require", str(jobs))
    assert done.read_text() == "41"


def test_remove_clear_and_retry_all(dashboard: Any, browser_page: Any, redis_url: str,
                                    redis_client: redis.Redis) -> None:
    for n in range(3):
        push(redis_client, "a", "Missing", n)
    drain(redis_url)
    page = browser_page()
    page.goto(dashboard() + "/failed")
    page.locator("tr.failure").nth(1).get_by_role("button", name="Remove", exact=True).click()
    page.wait_for_selector(".flash.ok")
    assert [json.loads(x)["payload"]["args"] for x in redis_client.lrange("resque:failed", 0, -1)] == [[0], [2]]
    page.get_by_role("button", name="Retry all").click()
    page.wait_for_selector(".flash.ok")
    assert redis_client.llen("resque:queue:a") == 2
    page.get_by_role("button", name="Clear failed jobs").click()
    page.wait_for_selector(".flash.ok")
    assert redis_client.llen("resque:failed") == 0
    assert "There are no failed jobs" in page.inner_text("main")


def test_a_stale_index_is_refused(failed_job: None, dashboard: Any, browser_page: Any,
                                 redis_client: redis.Redis) -> None:
    page = browser_page()
    page.goto(dashboard() + "/failed")
    redis_client.lset("resque:failed", 0, json.dumps({"payload": {"class": "Other", "args": []}, "queue": "x"}))
    page.get_by_role("button", name="Retry", exact=True).click()
    assert "the list changed" in page.inner_text(".flash.error")
    assert redis_client.llen("resque:queue:x") == 0


def test_filter_by_class_and_backtrace(dashboard: Any, browser_page: Any, redis_url: str,
                                       redis_client: redis.Redis) -> None:
    push(redis_client, "a", "Alpha", 1)
    push(redis_client, "a", "Beta", 2)
    push(redis_client, "a", "Alpha", 3)
    drain(redis_url)
    page = browser_page()
    page.goto(dashboard() + "/failed")
    page.select_option("#class-filter", "Alpha")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url("**class=Alpha**")
    rows = page.locator("tr.failure")
    assert rows.count() == 2
    assert [rows.nth(i).get_attribute("data-index") for i in range(2)] == ["0", "2"]
    backtrace = rows.first.locator("pre.backtrace")
    assert not backtrace.is_visible()
    rows.first.locator("summary").click()
    assert "registry.py" in backtrace.inner_text()
    # acting on a filtered row acts on the right entry
    rows.nth(1).get_by_role("button", name="Retry", exact=True).click()
    page.wait_for_selector(".flash.ok")
    assert redis_client.lrange("resque:queue:a", 0, -1) == [b'{"class":"Alpha","args":[3]}']
    shot(page, "resque-failed-filtered")


def test_queues_browse_and_remove(dashboard: Any, browser_page: Any, redis_client: redis.Redis) -> None:
    for n in range(25):
        push(redis_client, "images", "Resize", n)
    push(redis_client, "mail", "Deliver", "x@example.org")
    page = browser_page()
    base = dashboard()
    page.goto(base + "/queues")
    assert "images" in page.inner_text("#queues") and "25" in page.inner_text("#queues")
    page.click("text=images")
    assert page.locator("#jobs tbody tr").count() == 20
    page.click("text=Older")
    assert page.locator("#jobs tbody tr").count() == 5
    page.get_by_role("button", name="Remove queue").click()
    page.wait_for_selector(".flash.ok")
    assert not redis_client.exists("resque:queue:images")
    assert redis_client.smembers("resque:queues") == {b"mail"}


def test_workers_working_and_live_overview(dashboard: Any, browser_page: Any, redis_url: str,
                                          redis_client: redis.Redis, processes: Any, tmp_path: Path) -> None:
    jobs = tmp_path / "slow_jobs.py"
    jobs.write_text(JOB_FILE)
    base = dashboard(poll_interval=0.3)
    page = browser_page()
    page.goto(base + "/overview")
    assert "Nothing is happening" in page.inner_text("#live")
    worker = processes([sys.executable, "-m", "comparisons.resque_clone", "work", "--redis", redis_url,
                        "--queue", "slow", "--interval", "0.2", "--require", str(jobs)], name="worker")
    wait_for(lambda: redis_client.scard("resque:workers"), what="the worker to register", proc=worker)
    push(redis_client, "slow", "Slow", 30)
    # the overview updates itself (live poll) without a reload
    page.wait_for_selector("#live #working >> text=Slow", timeout=15_000)
    shot(page, "resque-overview-live")
    page.click("nav >> text=Working")
    assert "Slow" in page.inner_text("#working") and "[30]" in page.inner_text("#working")
    page.click("nav >> text=Workers")
    row = page.inner_text("#workers")
    assert str(worker.pid) in row and "slow" in row and "working" in row
    shot(page, "resque-workers")


def test_stats_pages(dashboard: Any, browser_page: Any, redis_client: redis.Redis) -> None:
    push(redis_client, "a", "X", 1)
    redis_client.set("resque:stat:processed", 7)
    page = browser_page()
    base = dashboard()
    page.goto(base + "/stats/resque")
    assert "7" in page.inner_text(".cards")
    page.click(".tabs >> text=redis")
    assert "redis_version" in page.inner_text("#redis-info")
    page.click(".tabs >> text=keys")
    page.click("#keys >> text=queue:a")
    assert '{"class":"X","args":[1]}' in page.inner_text("#key")


def test_job_arguments_are_escaped(dashboard: Any, browser_page: Any, redis_url: str,
                                   redis_client: redis.Redis) -> None:
    push(redis_client, "evil", "Missing", XSS)
    push(redis_client, "evil2", XSS, 1)
    drain(redis_url)
    push(redis_client, "evil", "Missing", XSS)
    page = browser_page()
    base = dashboard()
    for path in ("/failed", "/queues/evil", f"/failed?class={XSS}", "/stats/keys/queue:evil"):
        page.goto(base + path)
        assert XSS in page.inner_text("main"), path  # shown as text...
        assert page.evaluate("window.__pwned") is None, path  # ...never run
        assert page.locator("main script").count() == 0, path


def test_auth_is_required_when_set(dashboard: Any, browser_page: Any) -> None:
    from playwright.sync_api import Error

    base = dashboard(auth=AUTH)
    anonymous = browser_page()
    with pytest.raises(Error, match="ERR_INVALID_AUTH_CREDENTIALS"):  # the browser's login prompt
        anonymous.goto(base + "/overview")
    response = anonymous.request.get(base + "/failed")
    assert response.status == 401
    assert response.headers["www-authenticate"].startswith("Basic")
    wrong = browser_page(credentials=("admin", "nope"))
    assert wrong.goto(base + "/failed").status == 401
    assert "Authentication required" in wrong.inner_text("body")
    page = browser_page(credentials=AUTH)
    assert page.goto(base + "/overview").status == 200
    assert "Overview" in page.inner_text("h1")
    assert page.goto(base + "/static/dashboard.css").status == 200


def test_post_without_a_valid_csrf_token_is_refused(failed_job: None, dashboard: Any, browser_page: Any,
                                                    redis_client: redis.Redis) -> None:
    page = browser_page()
    page.goto(dashboard() + "/failed")
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(i => i.value = 'forged')")
    page.get_by_role("button", name="Retry", exact=True).click()
    assert "Refused" in page.inner_text("body") and "CSRF" in page.inner_text("body")
    page.goto(page.url.rsplit("/failed", 1)[0] + "/failed")
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(i => i.remove())")
    page.get_by_role("button", name="Clear failed jobs").click()
    assert "Refused" in page.inner_text("body")
    assert redis_client.llen("resque:failed") == 1
    assert redis_client.llen("resque:queue:snippets") == 0


def test_no_state_changes_on_get(failed_job: None, dashboard: Any, browser_page: Any,
                                 redis_client: redis.Redis) -> None:
    page = browser_page()
    base = dashboard()
    for path in ("/failed/0/retry", "/failed/0/remove", "/failed/clear", "/failed/requeue_all",
                 "/queues/snippets/remove"):
        assert page.goto(base + path).status == 405, path
    assert redis_client.llen("resque:failed") == 1


def test_mounted_under_a_prefix(redis_url: str, failed_job: None, serve_wsgi: Any, browser_page: Any) -> None:
    base = serve_wsgi(host_app("/resque", create_app(redis_url)))
    page = browser_page()
    page.goto(base + "/")
    assert page.inner_text("body") == "the host app"
    page.goto(base + "/resque/")
    page.click("nav >> text=Failed")
    assert page.url == base + "/resque/failed"
    page.get_by_role("button", name="Retry", exact=True).click()
    page.wait_for_selector(".flash.ok")
    assert page.url == base + "/resque/failed"
    assert page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor") != "rgba(0, 0, 0, 0)"


def test_redis_down_gives_a_clear_page(serve_wsgi: Any, browser_page: Any) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    page = browser_page()
    response = page.goto(serve_wsgi(create_app(f"redis://127.0.0.1:{port}/0")) + "/overview")
    assert response.status == 503
    assert "Redis is unreachable" in page.inner_text("main")


def test_malformed_entries_are_shown_and_kept(dashboard: Any, browser_page: Any,
                                              redis_client: redis.Redis) -> None:
    redis_client.sadd("resque:queues", "broken")
    redis_client.rpush("resque:queue:broken", "{not json")
    redis_client.rpush("resque:failed", "also not json")
    page = browser_page()
    base = dashboard()
    page.goto(base + "/queues/broken")
    assert "(malformed JSON)" in page.inner_text("#jobs") and "{not json" in page.inner_text("#jobs")
    page.goto(base + "/failed")
    assert "malformed" in page.inner_text("tr.failure")
    assert page.get_by_role("button", name="Retry", exact=True).count() == 0  # nothing to requeue
    assert page.get_by_role("button", name="Remove", exact=True).count() == 1
    assert redis_client.lrange("resque:failed", 0, -1) == [b"also not json"]
    assert redis_client.llen("resque:queue:broken") == 1


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "comparisons.resque_clone", "web", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=30,
                          env={k: v for k, v in {**os.environ, **(env or {})}.items() if k != "REDIS_URL"})


def test_cli_serves_on_127_0_0_1_with_auth_from_the_environment(redis_url: str, processes: Any) -> None:
    proc = processes([sys.executable, "-m", "comparisons.resque_clone", "web", "--redis-url", redis_url,
                      "--port", "0"], env={"RESQUE_WEB_AUTH": "ops:pw"}, name="resque-web")
    assert b"Overview" in get_with_basic_auth(served_url(proc) + "overview", "ops", "pw")


def test_cli_errors_are_clear() -> None:
    run = cli("--port", "0")
    assert run.returncode == 2 and "no Redis given" in run.stderr
    run = cli("--redis-url", "redis://127.0.0.1:1/0", "--auth", "nopassword")
    assert run.returncode == 2 and 'auth must look like "user:password"' in run.stderr
    run = cli("--bogus")
    assert run.returncode == 2 and "unrecognized arguments: --bogus" in run.stderr


def test_delayed_jobs_enqueue_now_and_delete(dashboard: Any, browser_page: Any, redis_url: str,
                                             redis_client: redis.Redis) -> None:
    from comparisons.resque_clone import Resque

    class Reminder:
        queue = "mail"
        resque_class = "Reminder"

        @staticmethod
        def perform(who: str) -> None: ...

    resque = Resque(redis_url)
    resque.enqueue_in(600, Reminder, "ada")  # resque-scheduler's enqueue_in
    resque.enqueue_in(900, Reminder, XSS)
    page = browser_page()
    page.goto(dashboard() + "/delayed")
    rows = page.locator("tr.delayed-item")
    assert rows.count() == 2 and "in 9 min" in rows.first.inner_text()
    assert XSS in rows.nth(1).inner_text() and page.evaluate("window.__pwned") is None
    shot(page, "resque-delayed")
    rows.first.get_by_role("button", name="Enqueue now").click()
    page.wait_for_selector(".flash.ok")
    assert redis_client.lrange("resque:queue:mail", 0, -1) == [b'{"class":"Reminder","args":["ada"]}']
    page.locator("tr.delayed-item").get_by_role("button", name="Delete").click()
    page.wait_for_selector(".flash.ok")
    assert resque.delayed_queue_schedule_size() == 0
    assert "No delayed jobs" in page.inner_text("main")
