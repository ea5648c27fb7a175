"""The Flask set-up both dashboards start from: an app guarded by guard.protect, the shared
blueprint, a Redis client, and the template helpers their pages use (to_json, when, ago)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import redis
from flask import Flask

from comparisons.webkit import guard
from comparisons.webkit.blueprint import blueprint


def dashboard_app(
    import_name: str,
    *,
    cookie: str,
    realm: str,
    auth: str | tuple[str, str] | None,
    secret_key: str | bytes | None,
) -> Flask:
    """A Flask app named `import_name` (its templates/ holds the pages) with its own session
    cookie, the guard (basic auth from "user:password" or (user, password); None = open) and the
    shared static files, base template and template helpers."""
    app = Flask(import_name, static_folder=None)
    app.config["SESSION_COOKIE_NAME"] = cookie
    credentials = guard.parse_auth(auth) if isinstance(auth, str) or auth is None else auth
    guard.protect(app, credentials, secret_key, realm=realm)
    app.register_blueprint(blueprint)
    app.jinja_env.globals.update(to_json=to_json, when=when, ago=ago)
    return app


def redis_client(redis_url: str) -> redis.Redis:
    """The dashboard's connection: str replies, a health check on idle connections."""
    return redis.Redis.from_url(redis_url, decode_responses=True, health_check_interval=30)


def location(client: redis.Redis) -> str:
    """Where the client points, for the page header: host:port/db or unix:path/db."""
    kw = client.connection_pool.connection_kwargs
    if "path" in kw:
        return f"unix:{kw['path']}/{kw.get('db', 0)}"
    return f"{kw.get('host', '?')}:{kw.get('port', '?')}/{kw.get('db', 0)}"


def to_json(value: Any) -> str:
    """JSON as the pages show it (a job's arguments in webkit_macros.args), non-ASCII kept."""
    return json.dumps(value, ensure_ascii=False)


def when(epoch: Any) -> str:
    """Epoch seconds as a UTC time, or '' when absent."""
    if not isinstance(epoch, int | float):
        return ""
    return datetime.fromtimestamp(float(epoch), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def ago(epoch: Any) -> str:
    """'12 s ago' / 'in 3 min'; '' when `epoch` is not a number."""
    if not isinstance(epoch, int | float):
        return ""
    delta = time.time() - float(epoch)
    future, delta = delta < 0, abs(delta)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if delta >= size:
            text = f"{int(delta // size)} {unit}"
            break
    else:
        text = f"{int(delta)} s"
    return f"in {text}" if future else f"{text} ago"
