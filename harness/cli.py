"""`queuebench`: the command line. Each sub-command lives in its own small function.

    queuebench list            workloads, systems (with their configs) and scenarios
    queuebench run             measure the systems (harness/run_command.py)
    queuebench report RUN_DIR  (re)build a run's HTML report (python -m reports)
    queuebench compare A B     two runs side by side, changes beyond the spread flagged
    queuebench redis           a private Redis in the foreground; prints its URL; Ctrl-C stops it
    queuebench agent           run workers on this host for a coordinator (harness/agent.py)
    queuebench testnet up N    N namespace "hosts" with agents on one machine (harness/testnet.py)
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

console = Console()

COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {}


def command(name: str) -> Callable[[Callable[[argparse.Namespace], int]], Callable[[argparse.Namespace], int]]:
    def register(fn: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
        COMMANDS[name] = fn
        return fn

    return register


@command("list")
def cmd_list(args: argparse.Namespace) -> int:
    from core import registry
    from workloads.registry import describe

    table = Table(title="Workloads")
    for col in ("name", "kind", "description"):
        table.add_column(col)
    for row in describe():
        table.add_row(row["name"], row["kind"], row["description"])
    console.print(table)

    table = Table(title="Systems")
    for col in ("name", "configs", "supports"):
        table.add_column(col)
    for row in registry.describe_systems():
        if row["available"]:
            table.add_row(row["name"], ", ".join(row["configs"]), ", ".join(row["supports"]))
        else:
            table.add_row(row["name"], f"[red]unavailable[/red]: {row['reason']}", "")
    console.print(table)

    table = Table(title="Scenarios")
    for col in ("name", "workload", "figures", "description"):
        table.add_column(col)
    for scenario in registry.scenarios().values():
        table.add_row(scenario.name, scenario.workload or "(the profile's)",
                      ", ".join(f.key for f in scenario.figures if f.headline),
                      scenario.description)
    for name, reason in registry.broken_scenarios().items():
        table.add_row(name, "", f"[red]cannot be loaded[/red]: {reason}", "")
    console.print(table)
    return 0


@command("run")
def cmd_run(args: argparse.Namespace) -> int:
    from harness.run_command import cmd_run as run

    return run(args)


def _reports(*argv: str) -> int:
    """Run the report's own command line (reports/cli.py) as its own process: the harness never
    imports reports. Its output and exit status are this command's."""
    from harness.runner import REPORTS_COMMAND

    return subprocess.call([*REPORTS_COMMAND, *argv])


@command("report")
def cmd_report(args: argparse.Namespace) -> int:
    return _reports("build", str(args.run_dir), "--out", str(args.out))


@command("compare")
def cmd_compare(args: argparse.Namespace) -> int:
    out = ["--out", str(args.out)] if args.out is not None else []
    return _reports("compare", str(args.run_a), str(args.run_b), *out)


@command("redis")
def cmd_redis(args: argparse.Namespace) -> int:
    from core.redis_server import EmbeddedRedis, RedisServerError

    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    try:
        server = EmbeddedRedis(port=args.port, host=args.host).start()
    except RedisServerError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 1
    try:
        print(f"Redis is running at {server.url}", flush=True)
        print(f"  export REDIS_URL={server.url}", flush=True)
        print("Ctrl-C stops it (nothing is kept on disk).", flush=True)
        while not stop.wait(0.5):
            if server.process is None or server.process.poll() is not None:
                console.print("[red]redis-server exited[/red]")
                return 1
    finally:
        server.stop()
        print("Redis stopped.", flush=True)
    return 0


@command("agent")
def cmd_agent(args: argparse.Namespace) -> int:
    from harness import agent

    try:
        return agent.main(args.control, args.name)
    except ValueError as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2


@command("testnet")
def cmd_testnet(args: argparse.Namespace) -> int:
    from harness import testnet_command

    return testnet_command.run(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="queuebench",
        description="One real job under several queue designs, measured side by side.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser("list", help="list workloads, systems with their configs, and scenarios")
    from harness.run_command import add_arguments as run_arguments

    run_arguments(sub.add_parser("run", help="measure the systems on every scenario; write results"))
    p = sub.add_parser("report", help="(re)build the HTML report of a run: reports/out/<run-id>/")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR", help="a run directory, e.g. results/<run-id>")
    p.add_argument("--out", type=Path, default=Path("reports/out"), help="reports folder (default: reports/out)")
    p = sub.add_parser("compare", help="two runs side by side; changes beyond the spread flagged")
    p.add_argument("run_a", type=Path, metavar="RUN_A", help="the earlier run directory")
    p.add_argument("run_b", type=Path, metavar="RUN_B", help="the later run directory")
    p.add_argument("--out", type=Path, default=None,
                   help="page to write (default: reports/out/compare-<A>-vs-<B>/index.html)")
    p = sub.add_parser("redis", help="run a private Redis in the foreground and print its URL")
    p.add_argument("--port", type=int, default=None, help="port on 127.0.0.1 (default: a free one)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to listen on (default: 127.0.0.1; another host's agents need "
                        "an address they can reach, on a network you trust)")
    p = sub.add_parser("agent", help="run worker groups on this host for a coordinator (Celery)")
    p.add_argument("--control", required=True, metavar="URL", help="the control broker's Redis URL")
    p.add_argument("--name", required=True, metavar="HOST", help="this host's name (queue agent.HOST)")
    p = sub.add_parser("testnet", help="namespace hosts on a bridge, each with an agent (root)")
    p.add_argument("action", choices=["up", "down"])
    p.add_argument("hosts", type=int, nargs="?", default=3, help="hosts for `up` (default: 3)")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = ["queuebench", *(sys.argv[1:] if argv is None else argv)]
    return COMMANDS[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
