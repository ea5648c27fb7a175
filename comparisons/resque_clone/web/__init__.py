"""resque-web for the Resque clone (and for a real Resque's Redis: the layout is the same).

    python -m comparisons.resque_clone web --redis-url redis://127.0.0.1:6379/0 [--port 5678]
        [--host 127.0.0.1] [--namespace resque] [--auth user:password]

or mounted in another WSGI app, like `mount Resque::Server, at: "/resque"`:

    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from comparisons.resque_clone.web import create_app
    app.wsgi_app = DispatcherMiddleware(app.wsgi_app, {"/resque": create_app(redis_url)})

Basic auth comes from --auth or RESQUE_WEB_AUTH ("user:password"); the CSRF signing key from
RESQUE_WEB_SECRET (random per process otherwise).
"""

from __future__ import annotations

import argparse
import os
import sys

from comparisons.resque_clone.web.app import create_app

__all__ = ["create_app", "main"]

DEFAULT_PORT = 5678  # resque-web's


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m comparisons.resque_clone web",
        description="resque-web: the Resque dashboard (Overview, Working, Failed, Queues, Workers, Stats).",
    )
    p.add_argument("--redis-url", default=os.environ.get("REDIS_URL"),
                   help="Redis to read (default: $REDIS_URL)")
    p.add_argument("--namespace", default="resque", help="key prefix (default: resque)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT}; 0 = any free)")
    p.add_argument("--auth", default=os.environ.get("RESQUE_WEB_AUTH"), metavar="USER:PASSWORD",
                   help="require HTTP basic auth (default: $RESQUE_WEB_AUTH; none when unset)")
    p.add_argument("--poll-interval", type=float, default=2.0, help="live poll period in seconds")
    return p


def main(argv: list[str] | None = None) -> int:
    from comparisons.resque_clone.web.guard import parse_auth, serve

    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.redis_url:
        parser.error("no Redis given: pass --redis-url or set REDIS_URL (e.g. from `queuebench redis`)")
    try:
        auth = parse_auth(args.auth)
    except ValueError as exc:
        parser.error(str(exc))
    app = create_app(args.redis_url, namespace=args.namespace, auth=auth,
                     secret_key=os.environ.get("RESQUE_WEB_SECRET"), poll_interval=args.poll_interval)
    return serve(app, args.host, args.port, "resque-web", authed=auth is not None)


if __name__ == "__main__":
    sys.exit(main())
