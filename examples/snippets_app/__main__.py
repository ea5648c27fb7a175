"""python -m examples.snippets_app --backend sidekiq_clone [--redis-url URL] [--port 3000]
[--host 127.0.0.1] [--dashboard-auth user:password]"""

from __future__ import annotations

import argparse
import os
import secrets
import sys

from examples.snippets_app.backends import NAMES


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m examples.snippets_app",
        description="The snippet app: paste code, a background job highlights it.",
    )
    p.add_argument("--backend", required=True, choices=NAMES, help="the queue the jobs go to")
    p.add_argument("--redis-url", default=os.environ.get("REDIS_URL"),
                   help="Redis for the jobs (default: $REDIS_URL)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=3000, help="port (default: 3000; 0 = any free)")
    p.add_argument("--dashboard-auth", default=os.environ.get("SNIPPETS_DASHBOARD_AUTH"),
                   metavar="USER:PASSWORD",
                   help="basic auth for /resque and /sidekiq (default: $SNIPPETS_DASHBOARD_AUTH, "
                        "else admin and a random password printed at start)")
    return p


def main(argv: list[str] | None = None) -> int:
    from comparisons.webkit.cli import serve
    from comparisons.webkit.guard import parse_auth
    from examples.snippets_app.app import create_app
    from examples.snippets_app.highlighting import db_path

    parser = build_parser()
    args = parser.parse_args(argv)
    if not args.redis_url:
        parser.error("no Redis given: pass --redis-url or set REDIS_URL (e.g. from `queuebench redis`)")
    auth_text = args.dashboard_auth or f"admin:{secrets.token_urlsafe(9)}"
    try:
        auth = parse_auth(auth_text)
    except ValueError as exc:
        parser.error(f"--dashboard-auth: {exc}")
    assert auth is not None
    app = create_app(args.backend, args.redis_url, auth)
    print(f"snippets on backend {args.backend}; snippet store {db_path()}", flush=True)
    print(f"dashboards at /resque and /sidekiq, user {auth[0]!r}, password {auth[1]!r}", flush=True)
    return serve(app, args.host, args.port, "the snippet app", authed=True)


if __name__ == "__main__":
    sys.exit(main())
