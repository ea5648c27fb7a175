"""Sidekiq::Web for the Sidekiq clone (and for a real Sidekiq's Redis: the layout is the same).

    python -m comparisons.sidekiq_clone web --redis-url redis://127.0.0.1:6379/0 [--port 9292]
        [--host 127.0.0.1] [--auth user:password]

or mounted in another WSGI app, like `mount Sidekiq::Web => "/sidekiq"`:

    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from comparisons.sidekiq_clone.web import create_app
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/sidekiq": create_app(redis_url)})

Basic auth comes from --auth or SIDEKIQ_WEB_AUTH ("user:password"); the CSRF signing key from
SIDEKIQ_WEB_SECRET (random per process otherwise).
"""

from __future__ import annotations

import argparse
import os
import sys

from comparisons.sidekiq_clone.web.app import create_app

__all__ = ["create_app", "main"]

DEFAULT_PORT = 9292  # rackup's, where Sidekiq::Web usually runs alone


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m comparisons.sidekiq_clone web",
        description="Sidekiq::Web: the Sidekiq dashboard (Dashboard, Busy, Queues, Retries, Scheduled, Dead).",
    )
    p.add_argument("--redis-url", default=os.environ.get("REDIS_URL"),
                   help="Redis to read (default: $REDIS_URL)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT}; 0 = any free)")
    p.add_argument("--auth", default=os.environ.get("SIDEKIQ_WEB_AUTH"), metavar="USER:PASSWORD",
                   help="require HTTP basic auth (default: $SIDEKIQ_WEB_AUTH; none when unset)")
    p.add_argument("--poll-interval", type=float, default=5.0, help="live poll period in seconds")
    return p


def main(argv: list[str] | None = None) -> int:
    from comparisons.sidekiq_clone.web.guard import parse_auth, serve

    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.redis_url:
        parser.error("no Redis given: pass --redis-url or set REDIS_URL (e.g. from `queuebench redis`)")
    try:
        auth = parse_auth(args.auth)
    except ValueError as exc:
        parser.error(str(exc))
    app = create_app(args.redis_url, auth=auth,
                     secret_key=os.environ.get("SIDEKIQ_WEB_SECRET"), poll_interval=args.poll_interval)
    return serve(app, args.host, args.port, "Sidekiq::Web", authed=auth is not None)


if __name__ == "__main__":
    sys.exit(main())
