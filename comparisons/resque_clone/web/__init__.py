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
import sys

from comparisons.resque_clone.web.app import create_app
from comparisons.webkit.cli import dashboard_parser, run_dashboard

__all__ = ["create_app", "main"]

DEFAULT_PORT = 5678  # resque-web's


def build_parser() -> argparse.ArgumentParser:
    p = dashboard_parser(
        "python -m comparisons.resque_clone web",
        "resque-web: the Resque dashboard (Overview, Working, Failed, Queues, Workers, Stats).",
        env_prefix="RESQUE_WEB", port=DEFAULT_PORT, poll_interval=2.0,
    )
    p.add_argument("--namespace", default="resque", help="key prefix (default: resque)")
    return p


def main(argv: list[str] | None = None) -> int:
    return run_dashboard(
        build_parser(), argv, env_prefix="RESQUE_WEB", name="resque-web",
        build=lambda args, **guard: create_app(args.redis_url, namespace=args.namespace, poll_interval=args.poll_interval, **guard),
    )


if __name__ == "__main__":
    sys.exit(main())
