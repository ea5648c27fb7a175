"""The command line that runs one dashboard alone (`python -m comparisons.<clone> web ...`):
the flags both dashboards take, the checks on them, and a foreground server."""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from comparisons.webkit.guard import parse_auth


def dashboard_parser(prog: str, description: str, *, env_prefix: str, port: int,
                     poll_interval: float) -> argparse.ArgumentParser:
    """--redis-url, --host, --port, --auth (default $<env_prefix>_AUTH), --poll-interval."""
    p = argparse.ArgumentParser(prog=prog, description=description)
    p.add_argument("--redis-url", default=os.environ.get("REDIS_URL"),
                   help="Redis to read (default: $REDIS_URL)")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1)")
    p.add_argument("--port", type=int, default=port, help=f"port (default: {port}; 0 = any free)")
    p.add_argument("--auth", default=os.environ.get(f"{env_prefix}_AUTH"), metavar="USER:PASSWORD",
                   help=f"require HTTP basic auth (default: ${env_prefix}_AUTH; none when unset)")
    p.add_argument("--poll-interval", type=float, default=poll_interval,
                   help="live poll period in seconds")
    return p


def run_dashboard(parser: argparse.ArgumentParser, argv: list[str] | None, *, env_prefix: str,
                  name: str, build: Callable[..., Any]) -> int:
    """Parse `argv`, then serve build(args, auth=..., secret_key=$<env_prefix>_SECRET)."""
    args = parser.parse_args(argv)
    if not args.redis_url:
        parser.error("no Redis given: pass --redis-url or set REDIS_URL (e.g. from `queuebench redis`)")
    try:
        auth = parse_auth(args.auth)
    except ValueError as exc:
        parser.error(str(exc))
    app = build(args, auth=auth, secret_key=os.environ.get(f"{env_prefix}_SECRET"))
    return serve(app, args.host, args.port, name, authed=auth is not None)


def serve(app: Any, host: str, port: int, name: str, authed: bool) -> int:
    """Serve a WSGI app in the foreground with werkzeug's threaded server until Ctrl-C / TERM."""
    from werkzeug.serving import make_server

    if host not in ("127.0.0.1", "localhost", "::1") and not authed:
        print(f"warning: {name} is reachable on {host} without --auth", file=sys.stderr)
    try:
        server = make_server(host, port, app, threaded=True)
    except OSError as exc:
        print(f"error: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"{name} on http://{host}:{server.server_port}/  (Ctrl-C stops it)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
