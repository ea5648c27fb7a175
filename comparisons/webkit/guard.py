"""The dashboard's protections, applied to a Flask app in one call.

- CSRF: Flask-WTF's CSRFProtect checks a signed token on every POST / PUT / PATCH / DELETE
  (forms carry `csrf_token()`, scripts send the X-CSRFToken header). A missing or wrong token
  is answered 400 with a plain explanation; nothing changes.
- Basic auth (optional): "user:password" from the flag or the environment variable; every
  request without those credentials gets 401 and a WWW-Authenticate challenge.
- Headers: a Content-Security-Policy that allows only this site's own scripts and styles, so
  even a job field that slipped through escaping could not run, plus nosniff / frame denial.
"""

from __future__ import annotations

import hmac
import os

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFError, CSRFProtect

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'"
)


def parse_auth(value: str | None) -> tuple[str, str] | None:
    """"user:password" -> (user, password); empty or None -> no auth."""
    if not value:
        return None
    user, sep, password = value.partition(":")
    if not sep or not user or not password:
        raise ValueError('auth must look like "user:password" (both parts non-empty)')
    return user, password


def protect(app: Flask, auth: tuple[str, str] | None, secret_key: str | bytes | None,
            realm: str) -> None:
    app.config["SECRET_KEY"] = secret_key or os.urandom(32)
    app.config["WTF_CSRF_TIME_LIMIT"] = None  # valid as long as the session: pages live-poll
    app.config["WTF_CSRF_SSL_STRICT"] = False  # plain HTTP on 127.0.0.1 has no Referer rule
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"  # the session (holding the CSRF secret) stays home
    CSRFProtect(app)

    @app.errorhandler(CSRFError)
    def csrf_refused(exc: CSRFError) -> tuple[str, int, dict[str, str]]:
        return (
            f"Refused: {exc.description} Reload the page and submit again; nothing was changed.\n",
            400,
            {"Content-Type": "text/plain; charset=utf-8"},
        )

    if auth is not None:
        user, password = auth

        @app.before_request
        def require_auth() -> Response | None:
            given = request.authorization
            if (
                given is not None
                and given.type == "basic"
                and hmac.compare_digest((given.username or "").encode(), user.encode())
                and hmac.compare_digest((given.password or "").encode(), password.encode())
            ):
                return None
            return Response(
                "Authentication required.\n", 401,
                {"WWW-Authenticate": f'Basic realm="{realm}", charset="UTF-8"',
                 "Content-Type": "text/plain; charset=utf-8"},
            )

    @app.after_request
    def headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

