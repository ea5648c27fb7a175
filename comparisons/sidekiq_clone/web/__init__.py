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
import sys

from comparisons.sidekiq_clone.web.app import create_app
from comparisons.webkit.cli import dashboard_parser, run_dashboard

__all__ = ["create_app", "main"]

DEFAULT_PORT = 9292  # rackup's, where Sidekiq::Web usually runs alone


def build_parser() -> argparse.ArgumentParser:
    p = dashboard_parser(
        "python -m comparisons.sidekiq_clone web",
        "Sidekiq::Web: the Sidekiq dashboard (Dashboard, Busy, Queues, Retries, Scheduled, Dead).",
        env_prefix="SIDEKIQ_WEB", port=DEFAULT_PORT, poll_interval=5.0,
    )
    return p


def main(argv: list[str] | None = None) -> int:
    return run_dashboard(
        build_parser(), argv, env_prefix="SIDEKIQ_WEB", name="Sidekiq::Web",
        build=lambda args, **guard: create_app(args.redis_url, poll_interval=args.poll_interval, **guard),
    )


if __name__ == "__main__":
    sys.exit(main())
