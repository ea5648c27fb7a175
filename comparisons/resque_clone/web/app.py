"""resque-web for the Resque clone, as a Flask app: Overview (live poll), Working, Failed, Queues,
Delayed (resque-scheduler's tab), Workers, Stats. Pages read Redis through data.ResqueData; every change is a POST with a CSRF
token (upstream resque-web changes state with GETs; this one never does).

Mount it like `mount Resque::Server, at: "/resque"`:

    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/resque": create_app(redis_url)})
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import redis
from flask import Flask, abort, flash, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from comparisons.resque_clone.web.data import PAGE, ResqueData, StaleEntry
from comparisons.webkit.app import dashboard_app, location

MAX_START = 2**62  # ?start= beyond this cannot be a list index Redis takes (start + page <= 2**63-1)
MAX_INDEX = 2**63 - 1
NAME_SHOWN = 80  # characters of a queue or class name a page shows


def create_app(
    redis_url: str,
    namespace: str = "resque",
    auth: str | tuple[str, str] | None = None,
    secret_key: str | bytes | None = None,
    poll_interval: float = 2.0,
) -> Flask:
    """The dashboard for the Resque data at `redis_url` under `namespace`.

    auth: None (open), "user:password" or (user, password). secret_key signs the CSRF tokens
    (random per process when None).
    """
    app = dashboard_app(__name__, cookie="resque_web_session", realm="Resque", auth=auth, secret_key=secret_key)
    # str replies; bytes that are not UTF-8 (another producer's) read back as \xNN, never raise
    client = redis.Redis.from_url(redis_url, decode_responses=True, encoding_errors="backslashreplace",
                                  health_check_interval=30)
    app.jinja_env.filters["short"] = short
    data = ResqueData(client, namespace)
    app.extensions["resque_data"] = data

    @app.context_processor
    def globals_() -> dict[str, Any]:
        return {
            "namespace": data.ns,
            "redis_location": location(client),
            "poll_interval_ms": int(poll_interval * 1000),
            "failed_total": _quiet(data.failed_count),
            "delayed_total": _quiet(data.delayed_count),
        }

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[str, int]:
        return render_template("error.html", message=f"{exc.code} {exc.name}: {exc.description}"), exc.code or 500

    @app.errorhandler(redis.ConnectionError)
    def redis_down(exc: Exception) -> tuple[str, int]:
        return render_template("error.html", message=f"Redis is unreachable: {exc}"), 503

    @app.get("/")
    def index() -> Response:
        return redirect(url_for("overview"))

    @app.get("/overview")
    def overview() -> str:
        return render_template("overview.html", **_overview(data))

    @app.get("/overview.poll")
    def overview_poll() -> str:
        return render_template("_overview.html", **_overview(data))

    @app.get("/working")
    def working() -> str:
        return render_template("working.html", workers=data.working(), all_count=len(data.workers()))

    @app.get("/failed")
    def failed() -> str:
        start = _start()
        klass = request.args.get("class") or None
        failures, total = data.failures(start, PAGE, klass)
        return render_template(
            "failed.html", failures=failures, total=total, start=start, page=PAGE,
            klass=klass, classes=data.failed_classes(),
        )

    @app.post("/failed/<int:index>/retry")
    def failed_retry(index: int) -> Response:
        _index(index)
        return _change(lambda: data.requeue(index, request.form.get("digest")),
                       f"Failure #{index} was requeued.")

    @app.post("/failed/<int:index>/remove")
    def failed_remove(index: int) -> Response:
        _index(index)
        return _change(lambda: data.remove_failure(index, request.form.get("digest")),
                       f"Failure #{index} was removed.")

    @app.post("/failed/requeue_all")
    def failed_requeue_all() -> Response:
        count = data.requeue_all()
        flash(f"{count} failed job(s) were requeued.", "ok")
        return redirect(url_for("failed"))

    @app.post("/failed/clear")
    def failed_clear() -> Response:
        flash(f"The failed list was cleared ({data.clear_failures()} job(s)).", "ok")
        return redirect(url_for("failed"))

    @app.get("/queues")
    def queues() -> str:
        return render_template("queues.html", sizes=data.queue_sizes())

    @app.get("/queues/<name>")
    def queue(name: str) -> str:
        if name == "failed":
            return failed()  # type: ignore[return-value]
        start = _start()
        return render_template(
            "queue.html", name=name, entries=data.queue_entries(name, start, PAGE),
            total=data.queue_size(name), start=start, page=PAGE,
        )

    @app.post("/queues/<name>/entries/<int:index>/remove")
    def queue_entry_remove(name: str, index: int) -> Response:
        _index(index)
        try:
            data.remove_queue_entry(name, index, request.form.get("digest"))
            flash(f"Entry #{index} was removed.", "ok")
        except StaleEntry as exc:
            flash(str(exc), "error")
        return redirect(url_for("queue", name=name))

    @app.post("/queues/<name>/remove")
    def queue_remove(name: str) -> Response:
        data.remove_queue(name)
        flash(f"Queue {name} was removed.", "ok")
        return redirect(url_for("queues"))

    @app.get("/delayed")
    def delayed_jobs() -> str:
        start = _start()
        return render_template("delayed.html", items=data.delayed_items(start, PAGE),
                               total=data.delayed_count(), start=start, page=PAGE)

    @app.post("/delayed/enqueue_now")
    def delayed_enqueue_now() -> Response:
        return _delayed_change(data.enqueue_delayed_now, "enqueued now")

    @app.post("/delayed/remove")
    def delayed_remove() -> Response:
        return _delayed_change(data.remove_delayed, "removed")

    @app.get("/workers")
    def workers() -> str:
        return render_template("workers.html", workers=data.workers())

    @app.get("/stats")
    def stats_index() -> Response:
        return redirect(url_for("stats", section="resque"))

    @app.get("/stats/<section>")
    def stats(section: str) -> str:
        if section == "resque":
            return render_template("stats.html", section=section, stats=data.stats(),
                                   redis_url=location(client))
        if section == "redis":
            return render_template("stats.html", section=section, info=data.redis_info())
        if section == "keys":
            rows, cut = data.key_list()
            return render_template("stats.html", section=section, keys=rows, cut=cut)
        abort(404)

    @app.get("/stats/keys/<path:key>")
    def stats_key(key: str) -> str:
        start = _start()
        return render_template("key.html", section="keys", key=data.key_contents(key, start),
                               start=start, page=50)

    return app


def _overview(data: ResqueData) -> dict[str, Any]:
    return {"sizes": data.queue_sizes(), "working": data.working(),
            "worker_count": len(data.workers()), "failed_count": data.failed_count()}


def _quiet(read: Any) -> Any:
    """A header figure that must not break the page (e.g. on the Redis-down error page)."""
    try:
        return read()
    except redis.RedisError:
        return "?"


def _delayed_change(action: Callable[[str], int], verb: str) -> Response:
    try:
        count = action(request.form.get("item", ""))
        if count:
            flash(f"{count} delayed job(s) {verb}.", "ok")
        else:
            flash("That delayed job is gone (the scheduler may have enqueued it).", "error")
    except StaleEntry as exc:
        flash(str(exc), "error")
    return redirect(url_for("delayed_jobs"))


def _start() -> int:
    """?start=: a whole number from 0 to MAX_START, else 400 with the reason."""
    raw = request.args.get("start", "")
    if raw == "":
        return 0
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 20 or int(raw) > MAX_START:
        abort(400, description=f"start must be a whole number from 0 to {MAX_START}, got {short(raw, 40)!r}")
    return int(raw)


def _index(index: int) -> None:
    if index > MAX_INDEX:
        abort(404, description=f"there is no entry #{short(str(index), 40)}")


def short(value: Any, limit: int = NAME_SHOWN) -> str:
    """A name as a page shows it: at most `limit` characters, cut with an ellipsis."""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _change(action: Any, message: str) -> Response:
    try:
        action()
        flash(message, "ok")
    except StaleEntry as exc:
        flash(str(exc), "error")
    return redirect(_safe_next() or url_for("failed"))


def _safe_next() -> str | None:
    """The page to return to: only a path on this site (never another host)."""
    target = request.form.get("next", "")
    if target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return None
