"""Sidekiq::Web for the Sidekiq clone, as a Flask app: Dashboard (counters, history chart, Redis
info, live poll), Busy (processes, running jobs, quiet / stop), Queues, Retries, Scheduled, Dead
and the /stats JSON. Pages read Redis through data.SidekiqData; every change is a POST with a
CSRF token, as in Sidekiq::Web.

Mount it like `mount Sidekiq::Web => "/sidekiq"`:

    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/sidekiq": create_app(redis_url)})
"""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime
from typing import Any

import redis
from flask import Flask, abort, flash, jsonify, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from comparisons.sidekiq_clone.web.data import (
    SETS,
    NotRunnable,
    SidekiqData,
    backtrace,
    parse_key,
    raw_bytes,
    safe_text,
)
from comparisons.webkit.app import dashboard_app, location

PAGE = 25
MAX_START = 2**31  # ?start= beyond this is refused, not passed to Redis
SHORT_NAME = 80  # characters of a queue name shown in a page
HISTORY_DAYS = (7, 30, 90, 180)
ACTIONS: dict[str, dict[str, tuple[str, ...]]] = {  # what each sorted-set page offers, per entry and for all
    "retries": {"one": ("retry", "delete", "kill"), "all": ("retry", "delete", "kill")},
    "scheduled": {"one": ("add_to_queue", "delete"), "all": ("add_to_queue", "delete")},
    "morgue": {"one": ("retry", "delete"), "all": ("retry", "delete")},
}
TITLES = {"retries": "Retries", "scheduled": "Scheduled Jobs", "morgue": "Dead Jobs"}
LABELS = {"retry": "Retry now", "delete": "Delete", "kill": "Kill", "add_to_queue": "Add to queue"}
ALL_LABELS = {"retry": "Retry All", "delete": "Delete All", "kill": "Kill All", "add_to_queue": "Enqueue All"}


def create_app(
    redis_url: str,
    auth: str | tuple[str, str] | None = None,
    secret_key: str | bytes | None = None,
    poll_interval: float = 5.0,
) -> Flask:
    """The dashboard for the Sidekiq data at `redis_url` (Sidekiq 7 layout, no key prefix).

    auth: None (open), "user:password" or (user, password). secret_key signs the CSRF tokens
    (random per process when None).
    """
    app = dashboard_app(__name__, cookie="sidekiq_web_session", realm="Sidekiq", auth=auth, secret_key=secret_key)
    # values that are not UTF-8 keep their bytes as surrogates, so they show and delete exactly
    client = redis.Redis.from_url(redis_url, decode_responses=True, health_check_interval=30,
                                  encoding_errors="surrogateescape")
    data = SidekiqData(client)
    app.extensions["sidekiq_data"] = data
    app.jinja_env.globals.update(LABELS=LABELS, ALL_LABELS=ALL_LABELS,
                                 b64=lambda raw: base64.b64encode(raw_bytes(raw)).decode())
    app.jinja_env.finalize = safe_text
    app.jinja_env.filters["short"] = short
    app.jinja_env.filters["printable"] = safe_text  # for a URL: undecodable bytes escaped

    @app.context_processor
    def globals_() -> dict[str, Any]:
        try:
            counts = data.stats()
        except Exception:  # the header never takes a page down
            app.logger.exception("the header's counts could not be read")
            counts = {}
        return {"counts": counts, "redis_location": location(client),
                "poll_interval_ms": int(poll_interval * 1000)}

    @app.errorhandler(redis.ConnectionError)
    def redis_down(exc: Exception) -> tuple[str, int]:
        return render_template("error.html", message=f"Redis is unreachable: {exc}"), 503

    # -- dashboard -------------------------------------------------------------------------

    @app.get("/")
    def dashboard() -> str:
        days = _days()
        history = data.history(days)
        return render_template("dashboard.html", days=days, day_choices=HISTORY_DAYS,
                               chart=chart(history), history=history, info=data.redis_info())

    @app.get("/dashboard.poll")
    def dashboard_poll() -> str:
        return render_template("_summary.html")

    @app.get("/stats")
    def stats() -> Response:
        return jsonify(
            sidekiq=data.stats(), redis=data.redis_info(),
            server_utc_time=datetime.now(UTC).strftime("%H:%M:%S UTC"),
        )

    @app.get("/stats/queues")
    def stats_queues() -> Response:
        return jsonify({q["name"]: q["size"] for q in data.queues()})

    # -- busy ------------------------------------------------------------------------------

    @app.get("/busy")
    def busy() -> str:
        return render_template("busy.html", processes=data.processes(), now=time.time())

    @app.post("/busy")
    def busy_signal() -> Response:
        action = request.form.get("action", "")
        if action not in ("quiet", "stop"):
            abort(400, "action must be quiet or stop")
        identity = request.form.get("identity")
        if identity:
            data.signal(identity, action)
            flash(f"Asked {identity} to {action}.", "ok")
        else:
            flash(f"Asked {data.signal_all(action)} process(es) to {action}.", "ok")
        return redirect(url_for("busy"))

    # -- queues ----------------------------------------------------------------------------

    @app.get("/queues")
    def queues() -> str:
        return render_template("queues.html", queues=data.queues())

    @app.get("/queues/<name>")
    def queue(name: str) -> str:
        start = _start()
        jobs, total = data.queue_jobs(name, start, PAGE)
        return render_template("queue.html", name=name, jobs=jobs, total=total, start=start, page=PAGE)

    @app.post("/queues/<name>")
    def queue_clear(name: str) -> Response:
        data.clear_queue(name)
        flash(f"Queue {name} was cleared.", "ok")
        return redirect(url_for("queues"))

    @app.post("/queues/<name>/delete")
    def queue_delete_job(name: str) -> Response:
        if "key_b64" in request.form:
            try:
                raw: str | bytes = base64.b64decode(request.form["key_b64"], validate=True)
            except ValueError:
                abort(400, "key_b64 must be the job's payload in base64")
        else:
            raw = request.form.get("key_val", "")
        if data.delete_queue_job(name, raw):
            flash("The job was deleted.", "ok")
        else:
            flash("That job is no longer in the queue.", "error")
        return redirect(url_for("queue", name=name))

    # -- retries / scheduled / dead --------------------------------------------------------

    def sorted_set_page(kind: str) -> str:
        start = _start()
        entries, total = data.entries(SETS[kind], start, PAGE, newest_first=kind == "morgue")
        return render_template("set.html", kind=kind, title=TITLES[kind], entries=entries,
                               total=total, start=start, page=PAGE, actions=ACTIONS[kind])

    def sorted_set_entry(kind: str, key: str) -> str | Response:
        try:
            entry = data.find(SETS[kind], key)
        except ValueError as exc:
            abort(404, str(exc))
        if entry is None:
            flash("That job is gone (it was retried, deleted or ran).", "error")
            return redirect(url_for(kind))
        return render_template("job.html", kind=kind, title=TITLES[kind], entry=entry,
                               backtrace=backtrace(entry.job), actions=ACTIONS[kind])

    def act(kind: str, keys: list[str]) -> Response:
        action = request.form.get("action", "")
        if action not in ACTIONS[kind]["one"]:
            abort(400, f"action must be one of {', '.join(ACTIONS[kind]['one'])}")
        done = 0
        for key in keys:
            try:
                parse_key(key)
            except ValueError as exc:
                abort(400, str(exc))
            try:
                done += data.move(SETS[kind], key, action)
            except NotRunnable as exc:
                flash(str(exc), "error")
        if done:
            flash(f"{LABELS[action]}: {done} job(s).", "ok")
        else:
            flash("Nothing was changed: the job(s) were already gone.", "error")
        return redirect(url_for(kind))

    def act_all(kind: str, action: str) -> Response:
        if action not in ACTIONS[kind]["all"]:
            abort(404)
        done = data.move_all(SETS[kind], action)
        flash(f"{ALL_LABELS[action]}: {done} job(s).", "ok")
        return redirect(url_for(kind))

    for kind in SETS:
        app.add_url_rule(f"/{kind}", kind, lambda kind=kind: sorted_set_page(kind))
        app.add_url_rule(f"/{kind}/<key>", f"{kind}_entry",
                         lambda key, kind=kind: sorted_set_entry(kind, key))
        app.add_url_rule(f"/{kind}", f"{kind}_act", methods=["POST"],
                         view_func=lambda kind=kind: act(kind, request.form.getlist("key")))
        app.add_url_rule(f"/{kind}/all/<action>", f"{kind}_all", methods=["POST"],
                         view_func=lambda action, kind=kind: act_all(kind, action))
        app.add_url_rule(f"/{kind}/<key>", f"{kind}_act_one", methods=["POST"],
                         view_func=lambda key, kind=kind: act(kind, [key]))

    return app


# -- helpers ---------------------------------------------------------------------------------


def chart(history: list[dict[str, Any]], width: int = 960, height: int = 220) -> dict[str, Any]:
    """Two polylines (processed, failed) and axis labels for an inline SVG."""
    pad_l, pad_r, pad_b, pad_t = 48, 28, 24, 10
    peak = max([1] + [d["processed"] for d in history] + [d["failed"] for d in history])
    n = max(1, len(history) - 1)
    inner_w, inner_h = width - pad_l - pad_r, height - pad_b - pad_t

    def xy(i: int, v: int) -> str:
        return f"{pad_l + inner_w * i / n:.1f},{pad_t + inner_h * (1 - v / peak):.1f}"

    step = max(1, len(history) // 6)
    return {
        "width": width, "height": height, "peak": peak, "left": pad_l, "top": pad_t,
        "bottom": pad_t + inner_h, "right": pad_l + inner_w,
        "processed": " ".join(xy(i, d["processed"]) for i, d in enumerate(history)),
        "failed": " ".join(xy(i, d["failed"]) for i, d in enumerate(history)),
        "ticks": [(pad_l + inner_w * i / n, history[i]["date"][5:]) for i in range(0, len(history), step)],
    }


def short(name: Any, limit: int = SHORT_NAME) -> str:
    """A name as a page shows it: at most `limit` characters."""
    text = str(name)
    return text if len(text) <= limit else text[:limit] + "…"


def _days() -> int:
    value = request.args.get("days", "30")
    choices = ", ".join(map(str, HISTORY_DAYS))
    if not value.isdigit() or int(value) not in HISTORY_DAYS:
        abort(400, f"days must be one of {choices}, not {value[:40]!r}")
    return int(value)


def _start() -> int:
    value = request.args.get("start", "0")
    if not value.isascii() or not value.isdigit() or int(value) > MAX_START:
        abort(400, f"start must be a whole number from 0 to {MAX_START}, not {value[:40]!r}")
    return int(value)
