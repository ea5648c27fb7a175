"""The Sidekiq clone's dashboard (Sidekiq::Web), in a real headless Chromium, on a real Redis
with real clone processes (failures, heartbeats, signals)."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from web_support import (
    AUTH,
    get_with_basic_auth,
    host_app,
    log_of,
    served_url,
    shot,
    stop,
    wait_for,
)

from comparisons.sidekiq_clone.client import Client
from comparisons.sidekiq_clone.web import create_app

XSS = "<script>window.__pwned = 1</script>"
JOBS = '''
import time
from comparisons.sidekiq_clone.worker import Worker

class HardJob(Worker):
    def perform(self, path):
        open(path, "w").write("done")

class Slow(Worker):
    def perform(self, seconds):
        time.sleep(seconds)
'''


@pytest.fixture
def jobs_file(tmp_path: Path) -> Path:
    path = tmp_path / "sk_jobs.py"
    path.write_text(JOBS)
    return path


@pytest.fixture
def sidekiq(redis_url: str, redis_client: redis.Redis, processes: Any) -> Any:
    """start(*flags) -> a real clone process, once its heartbeat is in Redis."""

    def start(*flags: str) -> Any:
        before = redis_client.scard("processes")
        proc = processes([sys.executable, "-m", "comparisons.sidekiq_clone", "--redis-url", redis_url,
                          "-c", "2", "-t", "1", "--beat-interval", "0.5", "--poll-interval", "1", *flags],
                         name="sidekiq")
        wait_for(lambda: redis_client.scard("processes") > before, what="the heartbeat", proc=proc)
        return proc

    return start


def job(klass: str = "HardJob", *args: Any, **extra: Any) -> dict[str, Any]:
    now = time.time()
    return {"class": klass, "args": list(args), "retry": True, "queue": "default",
            "jid": extra.pop("jid", f"{int(now * 1e6):024x}"[-24:]), "created_at": now,
            "enqueued_at": now, **extra}


def failed(jid: str, *args: Any, count: int = 0) -> dict[str, Any]:
    return job("HardJob", *args, jid=jid, error_class="RuntimeError", error_message="boom",
               failed_at=time.time(), retry_count=count, error_backtrace=["jobs.py:3:in `perform'"])


def zadd(r: redis.Redis, key: str, item: dict[str, Any], score: float) -> None:
    r.zadd(key, {json.dumps(item): score})


def test_retry_now_runs_the_job_on_a_restarted_process(dashboard: Any, browser_page: Any, sidekiq: Any,
                                                        redis_url: str, redis_client: redis.Redis,
                                                        jobs_file: Path, tmp_path: Path) -> None:
    done = tmp_path / "done"
    without_class = sidekiq()  # started before the job code exists, as in the story
    jid = Client(redis.Redis.from_url(redis_url)).push({"class": "HardJob", "args": [str(done)]})
    wait_for(lambda: redis_client.zcard("retry"), what="the failure in the retry set", proc=without_class)
    stop(without_class)
    page = browser_page()
    page.goto(dashboard() + "/retries")
    row = page.locator("tr.entry")
    assert "UnknownJobClass" in row.inner_text() and "restarted" in row.inner_text()
    shot(page, "sidekiq-retries")
    row.locator("input[type=checkbox]").check()
    page.get_by_role("button", name="Retry now", exact=True).click()
    page.wait_for_selector(".flash.ok")
    assert redis_client.zcard("retry") == 0
    queued = json.loads(redis_client.lindex("queue:default", 0))
    assert queued["jid"] == jid and queued["retry_count"] == -1  # Sidekiq's retry: count - 1
    sidekiq("-r", str(jobs_file))
    wait_for(done.exists, what="the retried job to run")
    assert redis_client.zcard("retry") == 0


def test_entry_page_shows_the_error_and_backtrace(dashboard: Any, browser_page: Any,
                                                  redis_client: redis.Redis) -> None:
    item = failed("a" * 24, 1)
    zadd(redis_client, "retry", item, time.time() + 30)
    page = browser_page()
    page.goto(dashboard() + "/retries")
    page.locator("tr.entry a").first.click()
    assert "boom" in page.inner_text("#error")
    assert "jobs.py:3" in page.inner_text("pre.backtrace")
    assert "a" * 24 in page.inner_text("#job")
    page.get_by_role("button", name="Kill").click()
    page.wait_for_selector(".flash.ok")
    assert redis_client.zcard("retry") == 0 and redis_client.zcard("dead") == 1


def test_retries_all_actions(dashboard: Any, browser_page: Any, redis_client: redis.Redis) -> None:
    now = time.time()
    for i in range(3):
        zadd(redis_client, "retry", failed(f"{i:024x}", i), now + 60 + i)
    page = browser_page()
    page.goto(dashboard() + "/retries")
    page.locator("tr.entry").nth(0).locator("input").check()
    page.get_by_role("button", name="Delete", exact=True).click()
    page.wait_for_selector(".flash.ok")
    assert redis_client.zcard("retry") == 2
    page.get_by_role("button", name="Kill All").click()
    page.wait_for_selector(".flash.ok")
    assert redis_client.zcard("retry") == 0 and redis_client.zcard("dead") == 2
    page.click("nav >> text=Dead")
    assert page.locator("tr.entry").count() == 2
    shot(page, "sidekiq-dead")
    page.get_by_role("button", name="Retry All").click()
    page.wait_for_selector(".flash.ok")
    assert redis_client.zcard("dead") == 0 and redis_client.llen("queue:default") == 2


def test_two_clicks_retry_once(dashboard: Any, browser_page: Any, redis_client: redis.Redis) -> None:
    zadd(redis_client, "retry", failed("b" * 24), time.time() + 60)
    base = dashboard()
    first, second = browser_page(), browser_page()
    for page in (first, second):
        page.goto(base + "/retries")
        page.locator("tr.entry input").check()
    first.get_by_role("button", name="Retry now", exact=True).click()
    second.get_by_role("button", name="Retry now", exact=True).click()
    assert "already gone" in second.inner_text(".flash.error")
    assert redis_client.llen("queue:default") == 1


def test_scheduled_add_to_queue_and_delete(dashboard: Any, browser_page: Any, redis_url: str,
                                           redis_client: redis.Redis) -> None:
    client = Client(redis.Redis.from_url(redis_url))
    keep = client.push({"class": "HardJob", "args": [1], "at": time.time() + 300})  # perform_in(300)
    client.push({"class": "HardJob", "args": [2], "at": time.time() + 600})
    page = browser_page()
    page.goto(dashboard() + "/scheduled")
    rows = page.locator("tr.entry")
    assert rows.count() == 2 and "in 4 min" in rows.first.inner_text()
    shot(page, "sidekiq-scheduled")
    rows.first.locator("input").check()
    page.get_by_role("button", name="Add to queue", exact=True).click()
    page.wait_for_selector(".flash.ok")
    assert json.loads(redis_client.lindex("queue:default", 0))["jid"] == keep
    page.get_by_role("button", name="Delete All").click()
    page.wait_for_selector(".flash.ok")
    assert redis_client.zcard("schedule") == 0


def test_queues_browse_delete_one_and_clear(dashboard: Any, browser_page: Any, redis_url: str,
                                            redis_client: redis.Redis) -> None:
    client = Client(redis.Redis.from_url(redis_url))
    jids = [client.push({"class": "HardJob", "args": [n], "queue": "mail"}) for n in range(3)]
    page = browser_page()
    page.goto(dashboard() + "/queues")
    assert "mail" in page.inner_text("#queues")
    page.click("#queues >> text=mail")
    assert page.locator("#jobs tbody tr").count() == 3
    page.locator("#jobs tbody tr", has_text=jids[1]).get_by_role("button", name="Delete").click()
    page.wait_for_selector(".flash.ok")
    left = [json.loads(x)["jid"] for x in redis_client.lrange("queue:mail", 0, -1)]
    assert sorted(left) == sorted([jids[0], jids[2]])
    page.get_by_role("button", name="Delete queue").click()
    page.wait_for_selector(".flash.ok")
    assert not redis_client.exists("queue:mail") and not redis_client.sismember("queues", "mail")


def test_busy_shows_running_jobs_then_quiet_and_stop(dashboard: Any, browser_page: Any, sidekiq: Any,
                                                     redis_url: str, redis_client: redis.Redis,
                                                     jobs_file: Path) -> None:
    proc = sidekiq("-r", str(jobs_file))
    Client(redis.Redis.from_url(redis_url)).push({"class": "Slow", "args": [30]})
    wait_for(lambda: any(redis_client.hgetall(f"{i.decode()}:work") for i in redis_client.smembers("processes")),
             what="the job to start", proc=proc)
    page = browser_page()
    base = dashboard()
    page.goto(base + "/busy")
    row = page.locator("tr.process")
    assert f":{proc.pid}" in row.inner_text()
    assert "Slow" in page.inner_text("#jobs") and "[30]" in page.inner_text("#jobs")
    shot(page, "sidekiq-busy")
    row.get_by_role("button", name="Quiet").click()
    page.wait_for_selector(".flash.ok")

    def quiet_shown() -> bool:
        page.goto(base + "/busy")
        return page.locator("tr.process .state", has_text="quiet").count() == 1

    wait_for(quiet_shown, what="the process to report quiet", proc=proc)
    page.locator("tr.process").get_by_role("button", name="Stop").click()
    page.wait_for_selector(".flash.ok")
    wait_for(lambda: proc.poll() is not None, what="the process to stop")
    assert proc.returncode == 0
    # stopped with a job in flight: Sidekiq pushes it back to its queue
    assert json.loads(redis_client.lindex("queue:default", 0))["class"] == "Slow"


def test_dashboard_counters_history_and_stats_json(dashboard: Any, browser_page: Any,
                                                   redis_client: redis.Redis) -> None:
    today = datetime.now(UTC).date()
    for days_ago, processed, failed_n in ((0, 40, 3), (1, 25, 0), (3, 10, 5)):
        day = (today - timedelta(days=days_ago)).strftime("%Y-%m-%d")
        redis_client.set(f"stat:processed:{day}", processed)
        redis_client.set(f"stat:failed:{day}", failed_n)
    redis_client.set("stat:processed", 75)
    redis_client.set("stat:failed", 8)
    zadd(redis_client, "retry", failed("c" * 24), time.time() + 60)
    base = dashboard()
    page = browser_page()
    page.goto(base + "/?days=7")
    assert page.inner_text("[data-stat=processed] .value") == "75"
    assert page.inner_text("[data-stat=retries] .value") == "1"
    legend = page.inner_text("#history .legend")
    assert "Processed (75)" in legend and "Failed (8)" in legend
    assert page.locator("#history polyline").count() == 2
    assert "redis version" in page.inner_text("#redis-info")
    shot(page, "sidekiq-dashboard")
    page.goto(base + "/stats")
    stats = json.loads(page.inner_text("body"))
    assert stats["sidekiq"]["processed"] == 75 and stats["sidekiq"]["retries"] == 1
    assert set(stats["redis"]) >= {"redis_version", "used_memory_human"}


def test_job_fields_are_escaped(dashboard: Any, browser_page: Any, redis_client: redis.Redis) -> None:
    evil = failed("d" * 24, XSS)
    evil["error_message"] = XSS
    zadd(redis_client, "retry", evil, time.time() + 60)
    redis_client.sadd("queues", "evil")
    redis_client.lpush("queue:evil", json.dumps(job(XSS, XSS)))
    page = browser_page()
    base = dashboard()
    page.goto(base + "/retries")
    page.locator("tr.entry a").first.click()
    for url in (page.url, base + "/retries", base + "/queues/evil"):
        page.goto(url)
        assert XSS in page.inner_text("main"), url
        assert page.evaluate("window.__pwned") is None, url
        assert page.locator("main script").count() == 0, url


def test_auth_is_required_when_set(dashboard: Any, browser_page: Any) -> None:
    base = dashboard(auth=AUTH)
    anonymous = browser_page()
    response = anonymous.request.get(base + "/stats")
    assert response.status == 401 and response.headers["www-authenticate"].startswith("Basic")
    wrong = browser_page(credentials=("admin", "wrong"))
    assert wrong.goto(base + "/").status == 401
    page = browser_page(credentials=AUTH)
    assert page.goto(base + "/busy").status == 200


def test_post_without_a_valid_csrf_token_is_refused(dashboard: Any, browser_page: Any,
                                                    redis_client: redis.Redis) -> None:
    zadd(redis_client, "retry", failed("e" * 24), time.time() + 60)
    page = browser_page()
    base = dashboard()
    page.goto(base + "/retries")
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(i => i.value = 'forged')")
    page.get_by_role("button", name="Delete All").click()
    assert "Refused" in page.inner_text("body")
    # a cross-site form (another origin, no token) is refused too
    status = page.evaluate(
        "url => fetch(url, {method: 'POST', body: new URLSearchParams({action: 'delete'})}).then(r => r.status)",
        base + "/retries/all/delete",
    )
    assert status == 400
    assert redis_client.zcard("retry") == 1


def test_no_state_changes_on_get(dashboard: Any, browser_page: Any, redis_client: redis.Redis) -> None:
    key = f"{time.time() + 60!r}-{'f' * 24}"
    zadd(redis_client, "retry", failed("f" * 24), float(key.split("-")[0]))
    page = browser_page()
    base = dashboard()
    for path in ("/retries/all/delete", "/morgue/all/retry", "/scheduled/all/delete"):
        assert page.goto(base + path).status == 405, path
    page.goto(base + f"/retries/{key}")  # the entry page is a GET: it shows, never changes
    assert redis_client.zcard("retry") == 1


def test_mounted_under_a_prefix(redis_url: str, serve_wsgi: Any, browser_page: Any,
                                redis_client: redis.Redis) -> None:
    zadd(redis_client, "retry", failed("9" * 24), time.time() + 60)
    base = serve_wsgi(host_app("/sidekiq", create_app(redis_url)))
    page = browser_page()
    page.goto(base + "/sidekiq/")
    page.click("nav >> text=Retries")
    assert page.url == base + "/sidekiq/retries"
    page.locator("tr.entry input").check()
    page.get_by_role("button", name="Retry now", exact=True).click()
    page.wait_for_selector(".flash.ok")
    assert page.url == base + "/sidekiq/retries"
    assert redis_client.llen("queue:default") == 1


RUBY_WORKER = '''
require "sidekiq"

class RubyBoom
  include Sidekiq::Worker
  sidekiq_options backtrace: true, retry: 3

  def perform(word)
    raise ArgumentError, "ruby says no to #{word}"
  end
end
'''


def test_works_on_a_real_sidekiq(dashboard: Any, browser_page: Any, redis_url: str,
                                 redis_client: redis.Redis, processes: Any, tmp_path: Path) -> None:
    """Real Sidekiq 6.4.1 (Debian's ruby-sidekiq): its process on Busy, its failure (with
    Sidekiq's compressed backtrace) on Retries, and stop through the signals list."""
    import shutil

    if not shutil.which("sidekiq"):
        pytest.skip("real Sidekiq is not installed (apt-get install ruby-sidekiq)")
    worker = tmp_path / "ruby_boom.rb"
    worker.write_text(RUBY_WORKER)
    proc = processes(["sidekiq", "-r", str(worker), "-c", "1", "-q", "default", "-t", "1"],
                     env={"REDIS_URL": redis_url}, name="ruby-sidekiq")
    wait_for(lambda: redis_client.scard("processes"), timeout=30, what="real Sidekiq's heartbeat", proc=proc)
    Client(redis.Redis.from_url(redis_url)).push({"class": "RubyBoom", "args": [XSS], "backtrace": True})
    wait_for(lambda: redis_client.zcard("retry"), timeout=30, what="Sidekiq's retry", proc=proc)
    base = dashboard()
    page = browser_page()
    page.goto(base + "/retries")
    assert "ArgumentError" in page.inner_text("tr.entry")
    page.locator("tr.entry a").first.click()
    assert "ruby_boom.rb" in page.inner_text("pre.backtrace")  # base64(zlib(JSON)) decoded
    assert page.evaluate("window.__pwned") is None
    page.goto(base + "/busy")
    assert f":{proc.pid}" in page.inner_text("tr.process")
    shot(page, "sidekiq-real-busy")
    page.locator("tr.process").get_by_role("button", name="Stop").click()  # TERM via the signals list
    wait_for(lambda: proc.poll() is not None, timeout=30, what="real Sidekiq to stop")
    assert "Bye!" in log_of(proc)


def test_malformed_entries_are_shown_and_never_lost(dashboard: Any, browser_page: Any,
                                                    redis_client: redis.Redis) -> None:
    redis_client.zadd("retry", {"{not json": time.time() + 60})
    redis_client.sadd("queues", "broken")
    redis_client.lpush("queue:broken", "[1, 2")
    page = browser_page()
    base = dashboard()
    page.goto(base + "/queues/broken")
    assert "(malformed JSON)" in page.inner_text("#jobs")
    page.goto(base + "/retries")
    assert "(malformed JSON)" in page.inner_text("tr.entry")
    page.locator("tr.entry input").check()
    page.get_by_role("button", name="Retry now", exact=True).click()
    assert "delete it instead" in page.inner_text(".flash.error")
    assert redis_client.zcard("retry") == 1  # refused, not dropped
    page.locator("tr.entry input").check()
    page.get_by_role("button", name="Delete", exact=True).click()
    page.wait_for_selector(".flash.ok")
    assert redis_client.zcard("retry") == 0


def test_unknown_keys_and_actions_are_refused(dashboard: Any, browser_page: Any,
                                              redis_client: redis.Redis) -> None:
    zadd(redis_client, "retry", failed("7" * 24), time.time() + 60)
    page = browser_page()
    base = dashboard()
    assert page.goto(base + "/retries/not-a-key").status == 404
    page.goto(base + "/retries")
    page.locator("tr.entry input").check()
    page.evaluate("document.querySelector('button[value=delete]').value = 'explode'")
    with page.expect_navigation() as nav:
        page.get_by_role("button", name="Delete", exact=True).click()
    assert nav.value.status == 400 and "action must be one of" in page.inner_text("body")
    page.goto(base + "/retries")
    page.evaluate("document.querySelector('tr.entry input').value = 'nonsense'")
    page.locator("tr.entry input").check()
    with page.expect_navigation() as nav:
        page.get_by_role("button", name="Delete", exact=True).click()
    assert nav.value.status == 400 and "not a job key" in page.inner_text("body")
    assert redis_client.zcard("retry") == 1


def test_cli_serves_with_auth_and_reports_errors(redis_url: str, processes: Any) -> None:
    import os
    import subprocess

    proc = processes([sys.executable, "-m", "comparisons.sidekiq_clone", "web", "--redis-url", redis_url,
                      "--port", "0", "--auth", "ops:pw"], name="sidekiq-web")
    body = get_with_basic_auth(served_url(proc) + "stats", "ops", "pw")
    assert json.loads(body)["sidekiq"]["processed"] == 0
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    run = subprocess.run([sys.executable, "-m", "comparisons.sidekiq_clone", "web"], capture_output=True,
                         text=True, timeout=30, env=env, cwd=Path(__file__).resolve().parent.parent)
    assert run.returncode == 2 and "no Redis given" in run.stderr
