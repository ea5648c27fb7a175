"""The snippet app's pages: paste code, see it plain at once, highlighted when the job is done.

create snippet -> saved in the snippet store -> a highlight job enqueued on the chosen backend
-> the snippet page shows the plain code and polls until the worker has saved the HTML.
resque-web and Sidekiq::Web (the clones' dashboards) are mounted at /resque and /sidekiq,
behind HTTP basic auth, like `mount Resque::Server, at: "/resque"` in a Rails routes file.
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, abort, flash, jsonify, redirect, render_template, request, url_for
from flask_wtf.csrf import CSRFProtect
from pygments.formatters import HtmlFormatter
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.wrappers import Response

from examples.snippets_app import backends
from examples.snippets_app.highlighting import store

LANGUAGES = {
    "python": "Python", "ruby": "Ruby", "javascript": "JavaScript", "c": "C", "go": "Go",
    "rust": "Rust", "java": "Java", "sql": "SQL", "bash": "Bash", "html": "HTML", "css": "CSS",
    "json": "JSON", "yaml": "YAML",
}
MAX_CODE = 100_000
MAX_DELAY = 3600


def create_app(
    backend: str,
    redis_url: str,
    dashboard_auth: str | tuple[str, str],
    secret_key: str | bytes | None = None,
) -> Flask:
    """The app on `backend` (one of backends.NAMES), its dashboards guarded by `dashboard_auth`."""
    from comparisons.resque_clone.web import create_app as resque_web
    from comparisons.sidekiq_clone.web import create_app as sidekiq_web

    chosen = backends.make(backend, redis_url)
    app = Flask(__name__)
    app.config["SECRET_KEY"] = secret_key or os.urandom(32)
    app.config["SESSION_COOKIE_NAME"] = "snippets_session"
    app.config["WTF_CSRF_TIME_LIMIT"] = None
    CSRFProtect(app)
    app.wsgi_app = DispatcherMiddleware(  # type: ignore[method-assign]
        app.wsgi_app,
        {"/resque": resque_web(redis_url, auth=dashboard_auth),
         "/sidekiq": sidekiq_web(redis_url, auth=dashboard_auth)},
    )
    css = HtmlFormatter().get_style_defs(".highlight")

    @app.context_processor
    def globals_() -> dict[str, Any]:
        return {"backend": chosen, "languages": LANGUAGES}

    @app.get("/")
    def index() -> str:
        return render_template("index.html", snippets=_recent())

    @app.post("/snippets")
    def create() -> Response | tuple[str, int]:
        form = request.form
        language, code = form.get("language", ""), form.get("code", "")
        name = form.get("name", "").strip() or "untitled"
        try:
            delay = float(form.get("delay") or 0)
        except ValueError:
            delay = -1
        problems = []
        if language not in LANGUAGES:
            problems.append(f"choose a language ({', '.join(LANGUAGES)})")
        if not code.strip():
            problems.append("paste some code")
        if len(code) > MAX_CODE:
            problems.append(f"keep the code under {MAX_CODE} characters")
        if not 0 <= delay <= MAX_DELAY:
            problems.append(f"the delay must be between 0 and {MAX_DELAY} seconds")
        if problems:
            for problem in problems:
                flash(f"Please {problem}.", "error")
            return render_template("index.html", snippets=_recent(), form=form), 400
        snippets = store()
        try:
            snippet_id = snippets.add(language, code, name[:200])
        finally:
            snippets.close()
        job = chosen.enqueue(snippet_id, delay)
        flash(f"Snippet saved; highlighting job enqueued: {job}.", "ok")
        return redirect(url_for("show", snippet_id=snippet_id))

    @app.get("/snippets/<int:snippet_id>")
    def show(snippet_id: int) -> str:
        return render_template("show.html", snippet=_get(snippet_id))

    @app.get("/snippets/<int:snippet_id>.json")
    def status(snippet_id: int) -> Response:
        snippet = _get(snippet_id)
        return jsonify(id=snippet.id, highlighted=snippet.html is not None, html=snippet.html)

    @app.get("/pygments.css")
    def pygments_css() -> Response:
        return Response(css, mimetype="text/css")

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; frame-ancestors 'none'",
        )
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response

    return app


def _recent(limit: int = 20) -> list[Any]:
    snippets = store()
    try:
        rows = snippets.conn.execute(
            "SELECT id, language, name, html IS NOT NULL FROM snippets ORDER BY id DESC LIMIT ?",
            (limit,),
        ).fetchall()
    finally:
        snippets.close()
    return [{"id": r[0], "language": r[1], "name": r[2], "highlighted": bool(r[3])} for r in rows]


def _get(snippet_id: int) -> Any:
    from workloads.store import UnknownSnippet

    snippets = store()
    try:
        return snippets.get(snippet_id)
    except UnknownSnippet:
        abort(404)
    finally:
        snippets.close()
