"""The command line: python -m comparisons.resque_clone <command>.

    work       a worker:  --queue '*' --interval 5 --require myapp.jobs [--no-fork] [--blocking]
               (or, as with `rake resque:work`: QUEUE / QUEUES, INTERVAL, FORK_PER_JOB=false,
               TERM_CHILD, RESQUE_TERM_TIMEOUT, GRACEFUL_TERM, RUN_AT_EXIT_HOOKS, PIDFILE,
               BACKGROUND, VVERBOSE)
    workers    --count N (or COUNT=N) workers with the same settings (rake resque:workers)
    scheduler  moves due delayed jobs to their queues (resque-scheduler)
    web        the dashboard (comparisons.resque_clone.web)
    stats      counters and sizes, as JSON
    failed     list | requeue N | remove N | clear | requeue-all

Redis comes from --redis URL or REDIS_URL; there is no silent default.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from typing import IO, Any

import redis

from comparisons.resque_clone import admin, keys, registry, scheduler, stats
from comparisons.resque_clone import queues as queue_rules
from comparisons.resque_clone.connection import Connection, NoRedisConfigured

log = logging.getLogger("resque_clone")


class UsageError(Exception):
    """Bad settings (exit status 2, like argparse)."""


def _float_env(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise UsageError(f"{name}={raw!r} is not a number of seconds") from exc


def _bool_env(name: str) -> bool | None:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return None
    return raw.strip().lower() not in ("false", "0", "no", "off")


def _work_arguments(w: argparse.ArgumentParser) -> None:
    """The settings of one worker (`work`, and each of `workers`)."""
    w.add_argument("-q", "--queue", "--queues", dest="queues", action="append",
                   help="queues in priority order, comma separated; '*' = all (env QUEUE / QUEUES)")
    w.add_argument("-i", "--interval", type=float, default=None,
                   help="seconds to sleep when no job (default 5; 0 = drain and exit; env INTERVAL)")
    w.add_argument("-r", "--require", action="append", default=[], metavar="MODULE",
                   help="module or .py file defining job classes (repeatable)")
    fork = w.add_mutually_exclusive_group()
    fork.add_argument("--fork", dest="fork", action="store_true", default=None,
                      help="fork a child per job (default; env FORK_PER_JOB)")
    fork.add_argument("--no-fork", dest="fork", action="store_false", help="run jobs in the worker")
    w.add_argument("--blocking", action="store_true", default=None,
                   help="BLPOP across the queues instead of polling (env BLOCKING)")
    w.add_argument("--with-scheduler", action="store_true",
                   help="also move due delayed jobs (a scheduler thread)")
    w.add_argument("--scheduler-interval", type=float, default=None,
                   help="scheduler poll seconds (default 5; env RESQUE_SCHEDULER_INTERVAL)")
    w.add_argument("--term-child", action="store_true", default=None,
                   help="on TERM / INT / USR1, send the child TERM first and KILL it only after "
                        "--term-timeout (env TERM_CHILD)")
    w.add_argument("--term-timeout", type=float, default=None, metavar="SECONDS",
                   help="how long a TERMed child may take to exit (default 4; env RESQUE_TERM_TIMEOUT)")
    w.add_argument("--graceful-term", action="store_true", default=None,
                   help="TERM finishes the current job first, like QUIT (env GRACEFUL_TERM)")
    w.add_argument("--run-at-exit-hooks", action="store_true", default=None,
                   help="forked children run atexit handlers before exiting (env RUN_AT_EXIT_HOOKS)")
    w.add_argument("--pidfile", default=None, metavar="PATH", help="write the worker's pid here (env PIDFILE)")
    w.add_argument("--background", action="store_true", default=None,
                   help="detach and run as a daemon; with --pidfile to find it (env BACKGROUND)")
    w.add_argument("--heartbeat-interval", type=float, default=None, help=argparse.SUPPRESS)
    w.add_argument("--prune-interval", type=float, default=None, help=argparse.SUPPRESS)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m comparisons.resque_clone",
                                description="A Resque-compatible job queue in Python.")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--redis", "--redis-url", dest="redis", help="Redis URL (default: $REDIS_URL)")
    common.add_argument("--namespace", default=os.environ.get("RESQUE_NAMESPACE", keys.DEFAULT_NAMESPACE),
                        help="key prefix (default: resque)")
    common.add_argument("-v", "--verbose", action="count", default=0)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    _work_arguments(sub.add_parser("work", parents=[common], help="run a worker"))
    pool = sub.add_parser("workers", parents=[common], allow_abbrev=False,
                          help="run COUNT workers with the same settings (rake resque:workers)")
    pool.add_argument("--count", type=int, default=None,
                      help="how many workers (env COUNT)")
    _work_arguments(pool)

    s = sub.add_parser("scheduler", parents=[common], help="move due delayed jobs to their queues")
    s.add_argument("-i", "--interval", type=float, default=None,
                   help="seconds between passes (default 5; env RESQUE_SCHEDULER_INTERVAL)")

    sub.add_parser("web", help="the dashboard (arguments go to the web module)", add_help=False)
    sub.add_parser("stats", parents=[common], help="counters and sizes as JSON")

    f = sub.add_parser("failed", parents=[common], help="the failed list")
    f.add_argument("action", choices=["list", "requeue", "remove", "clear", "requeue-all"])
    f.add_argument("index", nargs="?", type=int, help="record index for requeue / remove")
    return p


def _connect(args: argparse.Namespace) -> Connection:
    return Connection.from_url(args.redis, args.namespace)


def _logging(verbose: int) -> None:
    level = logging.DEBUG if verbose > 1 or os.environ.get("VVERBOSE") else logging.INFO
    logging.basicConfig(stream=sys.stdout, level=level,
                        format="%(asctime)s %(process)d %(levelname)s %(message)s")


def _flag(value: bool | None, env: str) -> bool:
    return value if value is not None else bool(_bool_env(env))


def _worker_options(args: argparse.Namespace) -> dict[str, Any]:
    """Worker(**...) keyword arguments from the flags, else the environment, checked (UsageError)."""
    spec = args.queues or [os.environ.get("QUEUES") or os.environ.get("QUEUE") or ""]
    try:
        patterns = queue_rules.parse(spec)
    except ValueError as exc:
        raise UsageError(str(exc)) from exc
    interval = args.interval if args.interval is not None else _float_env("INTERVAL", 5.0)
    if interval < 0:
        raise UsageError(f"interval must be >= 0, got {interval}")
    term_timeout = args.term_timeout if args.term_timeout is not None else _float_env(
        "RESQUE_TERM_TIMEOUT", keys.TERM_TIMEOUT)
    if term_timeout < 0:
        raise UsageError(f"term timeout must be >= 0, got {term_timeout}")
    fork = args.fork if args.fork is not None else _bool_env("FORK_PER_JOB")
    return {
        "queue_patterns": patterns, "interval": interval, "fork_per_job": True if fork is None else fork,
        "blocking": _flag(args.blocking, "BLOCKING"), "with_scheduler": args.with_scheduler,
        "scheduler_interval": args.scheduler_interval if args.scheduler_interval is not None
        else _float_env("RESQUE_SCHEDULER_INTERVAL", scheduler.DEFAULT_INTERVAL),
        "heartbeat_interval": args.heartbeat_interval
        or _float_env("RESQUE_HEARTBEAT_INTERVAL", keys.HEARTBEAT_INTERVAL),
        "prune_interval": args.prune_interval or _float_env("RESQUE_PRUNE_INTERVAL", keys.PRUNE_INTERVAL),
        "term_child": _flag(args.term_child, "TERM_CHILD"), "term_timeout": term_timeout,
        "graceful_term": _flag(args.graceful_term, "GRACEFUL_TERM"),
        "run_at_exit_hooks": _flag(args.run_at_exit_hooks, "RUN_AT_EXIT_HOOKS"),
    }


def _pidfile(args: argparse.Namespace) -> IO[str] | None:
    """The --pidfile / PIDFILE opened for writing now (so a bad path is reported before anything
    starts), or None; written by _detach_and_record_pid."""
    path = args.pidfile or os.environ.get("PIDFILE")
    try:
        return open(path, "w") if path else None  # noqa: SIM115 - the caller writes and closes it
    except OSError as exc:
        raise UsageError(f"cannot write the pid file {path}: {exc}") from exc


def _detach_and_record_pid(args: argparse.Namespace, pid_fh: IO[str] | None) -> None:
    if _flag(args.background, "BACKGROUND"):
        daemonize()
    if pid_fh:
        with pid_fh:
            pid_fh.write(str(os.getpid()))


def cmd_work(args: argparse.Namespace) -> int:
    from comparisons.resque_clone.worker import Worker

    options = _worker_options(args)
    conn = _connect(args)  # (no connection yet: a missing URL is reported before anything else)
    for target in args.require:
        try:
            names = registry.require(target)
        except Exception as exc:
            print(f"error: cannot load --require {target}: {type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
        log.info("loaded %s: %s", target, ", ".join(names) or "no job classes")
    # after every check, so a bad setting or a module that cannot load is reported by this
    # command, not lost in a daemon
    _detach_and_record_pid(args, _pidfile(args))
    Worker(conn, **options).work()
    return 0


def cmd_workers(args: argparse.Namespace, argv: list[str]) -> int:
    from comparisons.resque_clone import pool

    count = args.count
    if count is None:
        raw = os.environ.get("COUNT", "")
        try:
            count = int(raw) if raw else None
        except ValueError as exc:
            raise UsageError(f"COUNT={raw!r} is not a whole number") from exc
    if count is None:
        raise UsageError("how many workers? give --count N (or COUNT=N)")
    if count < 1:
        raise UsageError(f"count must be >= 1, got {count}")
    _worker_options(args)  # bad settings are reported once, here, not by every worker
    _connect(args)  # and so is a missing Redis URL
    _detach_and_record_pid(args, _pidfile(args))
    return pool.run(count, pool.work_argv(argv), pool.work_env(os.environ))


def daemonize() -> None:
    """BACKGROUND (Ruby's Process.daemon): the command returns at once, the worker lives on in a
    new session with no terminal. Output that goes to a terminal is dropped; output redirected to a
    file or pipe stays there (Ruby drops it too; a daemon's log is more useful kept)."""
    if os.fork() > 0:
        os._exit(0)
    os.setsid()
    devnull = os.open(os.devnull, os.O_RDWR)
    os.dup2(devnull, 0)
    for fd in (1, 2):
        if os.isatty(fd):
            os.dup2(devnull, fd)
    os.close(devnull)


def cmd_scheduler(args: argparse.Namespace) -> int:
    from comparisons.resque_clone import procline

    interval = args.interval if args.interval is not None else _float_env(
        "RESQUE_SCHEDULER_INTERVAL", scheduler.DEFAULT_INTERVAL)
    conn = _connect(args)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT):
        signal.signal(sig, lambda *_: stop.set())
    procline.set_title(f"Scheduler every {interval:g} s")
    log.info("Scheduler started: every %.3g s", interval)
    scheduler.run(conn, interval, stop)
    log.info("Scheduler exiting")
    return 0


def cmd_web(argv: list[str]) -> int:
    import importlib

    try:
        web = importlib.import_module("comparisons.resque_clone.web")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith("comparisons.resque_clone.web"):
            print("error: the dashboard module comparisons.resque_clone.web is not installed in "
                  "this checkout, so `web` is unavailable", file=sys.stderr)
            return 1
        raise
    return int(web.main(argv) or 0)


def cmd_stats(args: argparse.Namespace) -> int:
    print(json.dumps(stats.info(_connect(args)), indent=2))
    return 0


def cmd_failed(args: argparse.Namespace) -> int:
    conn = _connect(args)
    if args.action in ("requeue", "remove") and args.index is None:
        raise UsageError(f"failed {args.action} needs an index (see `failed list`)")
    if args.action == "list":
        for i, rec in enumerate(admin.records(conn, 0, admin.count(conn))):
            payload = rec.get("payload")
            cls = payload.get("class") if isinstance(payload, dict) else "?"
            print(f"{i}\t{rec.get('failed_at')}\t{rec.get('queue')}\t{cls}\t{rec.get('exception')}: {rec.get('error')}")
    elif args.action == "requeue":
        admin.requeue(conn, args.index)
        print(f"requeued failed job {args.index}")
    elif args.action == "remove":
        admin.remove(conn, args.index)
        print(f"removed failed job {args.index}")
    elif args.action == "clear":
        print(f"cleared {admin.clear(conn)} failed job(s)")
    else:
        print(f"requeued {admin.requeue_all(conn)} failed job(s)")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "web":
        return cmd_web(argv[1:])
    args = _parser().parse_args(argv)
    _logging(args.verbose)
    try:
        if args.command == "workers":
            return cmd_workers(args, argv[argv.index("workers") + 1:])
        handler = {"work": cmd_work, "scheduler": cmd_scheduler, "stats": cmd_stats,
                   "failed": cmd_failed}[args.command]
        return handler(args)
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (NoRedisConfigured, admin.NoSuchFailure, admin.NotRequeueable) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except redis.ConnectionError as exc:
        print(f"error: cannot reach Redis at {args.redis or os.environ.get('REDIS_URL')}: {exc}",
              file=sys.stderr)
        return 1
