"""Shared pieces of the browser tests (a helper module and pytest plugin, no tests here): a real
headless Chromium through Playwright, WSGI apps served on a free 127.0.0.1 port, a dashboard
served or mounted in a host app, real worker processes, screenshots.

Chromium is Debian's /usr/bin/chromium (never a downloaded browser). When it or Playwright is
missing the browser tests skip with the reason, except under CI=true, where they fail.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from system_helpers import needs

from core import procs

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("QUEUEBENCH_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
AUTH = ("admin", "s3cret-pass")


def _unavailable(reason: str) -> None:
    needs(reason, "browser tests need Chromium")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    """One headless Chromium per test module (module scope: Playwright's sync API allows one
    running instance per thread, and other modules of the suite start their own)."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        _unavailable(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install playwright)")
    manager = sync_playwright().start()
    try:
        browser = manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    except Exception as exc:  # a broken browser install: report why
        manager.stop()
        _unavailable(f"Chromium did not start: {exc}")
    try:
        yield browser
    finally:
        browser.close()
        manager.stop()


@pytest.fixture
def browser_page(chromium: Any) -> Iterator[Callable[..., Any]]:
    """new_page(credentials=None) -> a page in a fresh context, closed afterwards."""
    contexts: list[Any] = []

    def new_page(credentials: tuple[str, str] | None = None) -> Any:
        options: dict[str, Any] = {"viewport": {"width": 1280, "height": 860}}
        if credentials:
            options["http_credentials"] = {"username": credentials[0], "password": credentials[1]}
        context = chromium.new_context(**options)
        context.set_default_timeout(15_000)
        contexts.append(context)
        page = context.new_page()
        page.on("dialog", lambda dialog: dialog.accept())  # confirm() on destructive buttons
        return page

    yield new_page
    for context in contexts:
        context.close()


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under test-artifacts/."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def serve_wsgi() -> Iterator[Callable[[Any], str]]:
    """serve(app) -> its base URL; a threaded werkzeug server on a free 127.0.0.1 port."""
    from werkzeug.serving import make_server

    servers: list[Any] = []

    def serve(app: Any) -> str:
        server = make_server("127.0.0.1", 0, app, threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_port}"

    yield serve
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.fixture
def dashboard(request: pytest.FixtureRequest, redis_url: str, serve_wsgi: Callable[[Any], str]) -> Callable[..., str]:
    """make(**options) -> the base URL of the test module's `create_app(redis_url, **options)`,
    served on the test's Redis."""
    create_app = request.module.create_app

    def make(**options: Any) -> str:
        return serve_wsgi(create_app(redis_url, **options))

    return make


def host_app(prefix: str, dashboard_app: Any) -> Any:
    """A host Flask app answering "the host app" at / with `dashboard_app` mounted at `prefix`,
    the way a user mounts a dashboard in their own site."""
    from flask import Flask
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    host = Flask("host")
    host.get("/")(lambda: "the host app")
    host.wsgi_app = DispatcherMiddleware(host.wsgi_app, {prefix: dashboard_app})  # type: ignore[method-assign]
    return host


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    """start(argv, env=None, name=...) -> a real process (cwd: the checkout; log in tmp_path);
    every one is stopped at teardown (TERM, then KILL of its whole tree)."""
    started: list[subprocess.Popen[bytes]] = []

    def start(argv: list[str], env: dict[str, str] | None = None, name: str = "proc") -> subprocess.Popen[bytes]:
        log = open(tmp_path / f"{name}-{len(started)}.log", "wb")  # noqa: SIM115 - the child owns it
        try:
            proc = subprocess.Popen(
                argv, cwd=ROOT, env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                preexec_fn=procs.die_with_parent,
            )
        finally:
            log.close()
        proc.log_path = tmp_path / f"{name}-{len(started)}.log"  # type: ignore[attr-defined]
        started.append(proc)
        return proc

    yield start
    for proc in started:
        stop(proc)


def stop(proc: subprocess.Popen[bytes], timeout: float = 10) -> None:
    """TERM, wait, then KILL the tree: nothing is left running."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pass
    procs.stop_tree([proc.pid], signal.SIGKILL, timeout=5)
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def log_of(proc: subprocess.Popen[bytes]) -> str:
    return Path(proc.log_path).read_text(errors="replace")  # type: ignore[attr-defined]


def wait_for(check: Callable[[], Any], timeout: float = 20, what: str = "condition",
             proc: subprocess.Popen[bytes] | None = None) -> Any:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"process exited ({proc.returncode}) while waiting for {what}:\n{log_of(proc)[-3000:]}")
        if time.monotonic() > deadline:
            extra = f"\nlog:\n{log_of(proc)[-3000:]}" if proc is not None else ""
            pytest.fail(f"timed out after {timeout} s waiting for {what}{extra}")
        time.sleep(0.1)


def served_url(proc: subprocess.Popen[bytes]) -> str:
    """The http://127.0.0.1:PORT/ a server process printed at start."""
    import re

    found = wait_for(lambda: re.search(r"http://127\.0\.0\.1:\d+/", log_of(proc)), what="the URL", proc=proc)
    return str(found.group(0))


def get_with_basic_auth(url: str, user: str, password: str) -> bytes:
    """Check that `url` refuses a request without credentials (401); return the body it
    answers (200) with `user` and `password`."""
    import base64
    import urllib.error
    import urllib.request

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(url)
    assert refused.value.code == 401
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": "Basic " + token})) as response:
        assert response.status == 200
        return bytes(response.read())

