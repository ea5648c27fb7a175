"""The snippet app, end to end in a real headless Chromium: create a snippet, a real worker of
the chosen backend highlights it, the page swaps in the HTML; the seed's story of a worker that
lacks the job class, retried from the mounted dashboards."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis
from web_support import AUTH, ROOT, shot, stop, wait_for

from examples.snippets_app.app import create_app  # from the checkout: pytest's pythonpath = ["."]

CODE = 'def greet(name):\n    return f"<b>hello {name}</b>"  # <script>window.__pwned = 1</script>\n'


def worker_argv(backend: str, redis_url: str, knows_job: bool = True) -> list[str]:
    py = sys.executable
    if backend == "resque_clone":
        argv = [py, "-m", "comparisons.resque_clone", "work", "--redis", redis_url, "--queue", "*",
                "--interval", "0.2"]
        return argv + (["--require", "examples.snippets_app.resque_jobs"] if knows_job else [])
    if backend == "sidekiq_clone":
        argv = [py, "-m", "comparisons.sidekiq_clone", "--redis-url", redis_url, "-c", "2", "-t", "1",
                "--beat-interval", "0.5", "--poll-interval", "1"]
        return argv + (["-r", "examples.snippets_app.sidekiq_jobs"] if knows_job else [])
    if backend == "rq":
        return [py, "-m", "rq.cli", "worker", "--url", redis_url, "--with-scheduler", "default"]
    return [py, "-m", "celery", "-A", "examples.snippets_app.celery_app", "worker", "--pool", "solo",
            "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "INFO"]


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "snippets.sqlite3"
    monkeypatch.setenv("SNIPPETS_DB", str(path))
    return path


@pytest.fixture
def app_url(redis_url: str, db: Path, serve_wsgi: Any) -> Any:
    def serve(backend: str) -> str:
        return serve_wsgi(create_app(backend, redis_url, AUTH))

    return serve


@pytest.fixture
def worker(redis_url: str, db: Path, processes: Any) -> Any:
    def start(backend: str, knows_job: bool = True) -> Any:
        return processes(worker_argv(backend, redis_url, knows_job),
                         env={"SNIPPETS_DB": str(db), "REDIS_URL": redis_url}, name=f"{backend}-worker")

    return start


def create_snippet(page: Any, base: str, code: str = CODE, language: str = "python", delay: int = 0) -> int:
    page.goto(base + "/")
    page.fill("#name", "greeting")
    page.select_option("#language", language)
    page.fill("#code", code)
    page.fill("#delay", str(delay))
    page.get_by_role("button", name="Create snippet").click()
    page.wait_for_url(re.compile(r".*/snippets/\d+$"))
    return int(page.url.rsplit("/", 1)[1])


def wait_highlighted(page: Any, proc: Any = None, timeout_ms: int = 30_000) -> None:
    try:
        page.wait_for_selector("#code .highlight", timeout=timeout_ms)
    except Exception:
        if proc is not None:
            from web_support import log_of

            pytest.fail(f"never highlighted; worker log:\n{log_of(proc)[-3000:]}")
        raise


@pytest.mark.parametrize("backend", ["resque_clone", "sidekiq_clone", "rq", "celery"])
def test_create_a_snippet_and_see_it_highlighted(backend: str, app_url: Any, worker: Any,
                                                 browser_page: Any) -> None:
    base = app_url(backend)
    page = browser_page()
    create_snippet(page, base)
    # no worker yet: the plain code is shown, escaped, with a waiting badge
    assert "waiting for the highlighter" in page.inner_text("#status")
    assert page.inner_text("#code pre.plain").strip() == CODE.strip()
    assert page.evaluate("window.__pwned") is None
    shot(page, f"snippets-{backend}-waiting")
    proc = worker(backend)
    wait_highlighted(page, proc)  # the page swaps the HTML in by itself, no reload
    assert page.locator("#code .highlight .k", has_text="def").count() == 1
    assert "<script>" in page.inner_text("#code") and page.evaluate("window.__pwned") is None
    assert "highlighted" in page.inner_text("#status")
    shot(page, f"snippets-{backend}-highlighted")


def test_resque_story_retry_from_the_dashboard(app_url: Any, worker: Any, browser_page: Any,
                                               redis_client: redis.Redis) -> None:
    base = app_url("resque_clone")
    page = browser_page()
    old = worker("resque_clone", knows_job=False)  # deployed before the job class existed
    snippet_id = create_snippet(page, base)
    wait_for(lambda: redis_client.llen("resque:failed"), what="the job to fail", proc=old)
    stop(old)
    worker("resque_clone")  # restarted with the new job code
    admin = browser_page(credentials=AUTH)
    admin.goto(base + "/resque/failed")
    row = admin.locator("tr.failure")
    assert "SnippetHighlighter" in row.inner_text() and "restart the worker" in row.inner_text()
    shot(admin, "snippets-resque-failed")
    row.get_by_role("button", name="Retry", exact=True).click()
    admin.wait_for_selector(".flash.ok")
    page.goto(f"{base}/snippets/{snippet_id}")
    wait_highlighted(page)


def test_sidekiq_story_retry_now_and_perform_in(app_url: Any, worker: Any, browser_page: Any,
                                                redis_client: redis.Redis) -> None:
    base = app_url("sidekiq_clone")
    page = browser_page()
    old = worker("sidekiq_clone", knows_job=False)
    snippet_id = create_snippet(page, base)
    wait_for(lambda: redis_client.zcard("retry"), what="the automatic retry to be scheduled", proc=old)
    stop(old)
    worker("sidekiq_clone")
    admin = browser_page(credentials=AUTH)
    admin.goto(base + "/sidekiq/retries")
    row = admin.locator("tr.entry")
    assert "PygmentsWorker" in row.inner_text() and "UnknownJobClass" in row.inner_text()
    shot(admin, "snippets-sidekiq-retries")
    row.locator("input[type=checkbox]").check()
    admin.get_by_role("button", name="Retry now", exact=True).click()
    admin.wait_for_selector(".flash.ok")
    page.goto(f"{base}/snippets/{snippet_id}")
    wait_highlighted(page)
    # perform_in: the job waits in the schedule, then the poller pushes it
    later = create_snippet(page, base, delay=2)
    scheduled = [json.loads(m) for m in redis_client.zrange("schedule", 0, -1)]
    assert [j["args"] for j in scheduled] == [[later]]
    admin.goto(base + "/sidekiq/scheduled")
    assert "PygmentsWorker" in admin.inner_text("tr.entry")
    wait_highlighted(page)


def test_dashboards_are_behind_basic_auth(app_url: Any, browser_page: Any) -> None:
    base = app_url("rq")
    page = browser_page()
    assert page.goto(base + "/").status == 200  # the app itself is public
    for path in ("/resque/", "/sidekiq/", "/sidekiq/stats"):
        assert page.request.get(base + path).status == 401, path
    admin = browser_page(credentials=AUTH)
    assert admin.goto(base + "/resque/overview").status == 200
    assert admin.goto(base + "/sidekiq/").status == 200


def test_bad_input_is_refused_with_a_message(app_url: Any, browser_page: Any, redis_client: redis.Redis) -> None:
    base = app_url("sidekiq_clone")
    page = browser_page()
    page.goto(base + "/")
    page.evaluate("document.getElementById('new-snippet').noValidate = true")  # past the browser's checks
    page.fill("#code", "   ")
    page.fill("#delay", "-5")
    page.get_by_role("button", name="Create snippet").click()
    errors = page.inner_text("main")
    assert "paste some code" in errors and "delay must be between" in errors
    assert redis_client.llen("queue:default") == 0 and redis_client.zcard("schedule") == 0


def test_a_form_post_without_the_csrf_token_is_refused(app_url: Any, browser_page: Any,
                                                        redis_client: redis.Redis) -> None:
    base = app_url("resque_clone")
    page = browser_page()
    page.goto(base + "/")
    page.evaluate("document.querySelector('input[name=csrf_token]').remove()")
    page.fill("#code", "x = 1")
    page.get_by_role("button", name="Create snippet").click()
    assert "CSRF" in page.inner_text("body")
    assert redis_client.llen("resque:queue:snippets_queue") == 0


def test_the_command_line_serves_the_app(redis_url: str, db: Path, processes: Any) -> None:
    proc = processes([sys.executable, "-m", "examples.snippets_app", "--backend", "rq",
                      "--redis-url", redis_url, "--port", "0", "--dashboard-auth", "admin:pw"], name="app")
    from web_support import log_of

    line = wait_for(lambda: re.search(r"http://127\.0\.0\.1:(\d+)/", log_of(proc)), what="the URL", proc=proc)
    import urllib.request

    with urllib.request.urlopen(line.group(0)) as response:
        assert response.status == 200 and b"New snippet" in response.read()
    assert "password 'pw'" in log_of(proc)


def test_the_command_line_rejects_bad_flags() -> None:
    run = subprocess.run([sys.executable, "-m", "examples.snippets_app", "--backend", "kafka"],
                         cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert run.returncode == 2 and "invalid choice: 'kafka'" in run.stderr
    run = subprocess.run([sys.executable, "-m", "examples.snippets_app", "--backend", "rq"],
                         cwd=ROOT, capture_output=True, text=True, timeout=30, env={"PATH": "/usr/bin"})
    assert run.returncode == 2 and "no Redis given" in run.stderr


def test_resque_delayed_snippet_waits_on_the_delayed_tab(app_url: Any, redis_url: str, db: Path,
                                                         processes: Any, browser_page: Any) -> None:
    base = app_url("resque_clone")
    page = browser_page()
    snippet_id = create_snippet(page, base, delay=2)
    admin = browser_page(credentials=AUTH)
    admin.goto(base + "/resque/delayed")
    assert f"[{snippet_id}]" in admin.inner_text("tr.delayed-item")
    proc = processes(worker_argv("resque_clone", redis_url) + ["--with-scheduler", "--scheduler-interval", "0.5"],
                     env={"SNIPPETS_DB": str(db), "REDIS_URL": redis_url}, name="resque-scheduler")
    wait_highlighted(page, proc)
