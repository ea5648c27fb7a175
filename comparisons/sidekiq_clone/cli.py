"""The command line: `python -m comparisons.sidekiq_clone -r MOD -q high,5 -q default -c 10`.

Sidekiq's flags (-r -q -c -t -C -g -v -L -P -V), plus --reliable, --poll-interval and
--redis-url (default: REDIS_URL). `python -m comparisons.sidekiq_clone web ...` runs the
dashboard (comparisons.sidekiq_clone.web, imported only then).

Signals reach the main thread only; the handlers write the signal's name into a pipe and the
main thread reads it and acts (the self-pipe trick Sidekiq uses too):
  INT, TERM  stop: quiet, wait up to -t seconds, push unfinished jobs back, exit
  TSTP       quiet: finish running jobs, fetch no more
  TTIN       log every thread's stack
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from comparisons.sidekiq_clone.config import Config, ConfigError, load_file
from comparisons.sidekiq_clone.fetch import parse_queues

log = logging.getLogger("sidekiq_clone")

HANDLED_SIGNALS = ("INT", "TERM", "TSTP", "TTIN")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m comparisons.sidekiq_clone",
        description="A Sidekiq server in Python (Sidekiq 7 Redis layout). "
                    "`... web [args]` runs the dashboard instead.",
    )
    p.add_argument("-r", "--require", action="append", metavar="MODULE|FILE.py",
                   help="module (dotted name) or file that defines the worker classes; repeatable")
    p.add_argument("-q", "--queue", action="append", metavar="QUEUE[,WEIGHT]",
                   help="queue to work on, with an optional weight; repeatable (default: default)")
    p.add_argument("-c", "--concurrency", type=int, help="processor threads (default 10)")
    p.add_argument("-t", "--timeout", type=float, help="shutdown timeout in seconds (default 25)")
    p.add_argument("-C", "--config", metavar="PATH", help="YAML or JSON config file")
    p.add_argument("-g", "--tag", help="process tag shown in the Web UI")
    p.add_argument("-v", "--verbose", action="store_true", default=None,
                   help="log every job (start / done)")
    p.add_argument("-L", "--logfile", help="log to this file instead of stderr")
    p.add_argument("-P", "--pidfile", help="write the process id to this file")
    p.add_argument("-V", "--version", action="store_true", help="print the version and exit")
    p.add_argument("--reliable", action="store_true", default=None,
                   help="reliable fetch: in-progress jobs survive a crash (BLMOVE + recovery)")
    p.add_argument("--poll-interval", type=float, dest="poll_interval_average", metavar="SECONDS",
                   help="average scheduled-poller interval (default 5 s x processes)")
    p.add_argument("--beat-interval", type=float, metavar="SECONDS",
                   help="heartbeat period (default 5)")
    p.add_argument("--max-retries", type=int, help="retries for retry: true (default 25)")
    p.add_argument("--redis-url", help="Redis URL (default: $REDIS_URL)")
    return p


def parse_config(argv: list[str]) -> Config:
    """argv -> Config: file settings first, then the flags given."""
    args = build_parser().parse_args(argv)
    if args.version:
        from comparisons.sidekiq_clone.launcher import VERSION

        print(f"sidekiq_clone {VERSION}")
        raise SystemExit(0)
    settings: dict[str, Any] = load_file(args.config) if args.config else {}
    for name in ("concurrency", "timeout", "tag", "verbose", "logfile", "pidfile", "reliable",
                 "poll_interval_average", "beat_interval", "max_retries", "redis_url"):
        value = getattr(args, name)
        if value is not None:
            settings[name] = value
    if args.queue:
        try:
            settings["queues"], settings["strict"] = parse_queues(args.queue)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
    if args.require:
        settings["require"] = list(settings.get("require", [])) + args.require
    try:
        return Config(**settings).check()
    except TypeError as exc:
        raise ConfigError(str(exc)) from None


def require(target: str) -> None:
    """Import the job code: a dotted module name or a path to a .py file."""
    if target.endswith(".py") or os.sep in target:
        path = Path(target)
        if not path.is_file():
            raise ConfigError(f"-r {target}: no such file")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise ConfigError(f"-r {target}: cannot load it as Python")
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
    else:
        try:
            importlib.import_module(target)
        except ImportError as exc:
            raise ConfigError(f"-r {target}: cannot import it: {exc}") from None


def setup_logging(config: Config) -> None:
    # odd payloads (lone surrogates, bytes) are logged escaped, never as a logging error
    if hasattr(sys.stderr, "reconfigure"):
        sys.stderr.reconfigure(errors="backslashreplace")
    handler: logging.Handler = (logging.FileHandler(config.logfile, errors="backslashreplace")
                                if config.logfile else logging.StreamHandler(sys.stderr))
    handler.setFormatter(logging.Formatter(
        "%(asctime)s pid=%(process)d tid=%(threadName)s %(levelname)s: %(message)s"))
    log.handlers[:] = [handler]
    log.setLevel(logging.DEBUG if config.verbose else logging.INFO)
    log.propagate = False


def dump_threads() -> None:
    """TTIN: every thread's stack into the log."""
    frames = sys._current_frames()
    for thread in threading.enumerate():
        frame = frames.get(thread.ident or -1)
        stack = "".join(traceback.format_stack(frame)) if frame else "(no frame)\n"
        log.warning("Thread TID-%s %s\n%s", thread.ident, thread.name, stack.rstrip())


def run_web(argv: list[str]) -> int:
    try:
        web = importlib.import_module("comparisons.sidekiq_clone.web")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("comparisons.sidekiq_clone.web"):
            print("the dashboard is not installed: comparisons.sidekiq_clone.web is missing "
                  "from this checkout", file=sys.stderr)
            return 2
        raise
    return int(web.main(argv) or 0)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "web":
        return run_web(argv[1:])
    try:
        config = parse_config(argv)
        setup_logging(config)
        for target in config.require:
            require(target)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if config.pidfile:
        Path(config.pidfile).write_text(f"{os.getpid()}\n")

    from comparisons.sidekiq_clone import connection
    from comparisons.sidekiq_clone.launcher import Launcher

    try:
        connection.configure(config.redis_url, size=5)  # for job code that pushes jobs
    except connection.NoRedisURL as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    launcher = Launcher(config)
    read_fd, write_fd = os.pipe()

    def handler(signum: int, _frame: Any) -> None:
        os.write(write_fd, signal.Signals(signum).name.removeprefix("SIG").encode() + b"\n")

    for name in HANDLED_SIGNALS:
        signal.signal(getattr(signal, "SIG" + name), handler)

    log.info("Starting processing, hit Ctrl-C to stop (identity %s, %d threads, queues %s%s%s)",
             launcher.identity, config.concurrency, ", ".join(config.queue_specs()),
             "" if config.strict else " weighted", ", reliable fetch" if config.reliable else "")
    launcher.run()
    with os.fdopen(read_fd, "rb", buffering=0) as pipe:
        while True:
            line = b""
            while not line.endswith(b"\n"):
                chunk = pipe.read(1)
                if not chunk:
                    break
                line += chunk
            name = line.decode().strip()
            log.info("Got %s signal", name)
            if name in ("INT", "TERM"):
                log.info("Shutting down")
                launcher.stop()
                log.info("Bye!")
                return 0
            if name == "TSTP":
                log.info("Received TSTP, no longer accepting new work")
                launcher.quiet()
            elif name == "TTIN":
                dump_threads()
