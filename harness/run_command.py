"""`queuebench run`: measure the systems on the scenarios of a profile and write the results.

    queuebench run [--profile quick|default|full] [--systems a,b] [--scenarios a,b]
                   [--workload NAME] [--configs NAME|SYSTEM:NAME,...] [--redis-url URL]
                   [--out DIR] [--report-dir DIR] [--repeat N] [--no-report]

A run writes only where it is told: results under --out (default results/), the report under
--report-dir, which defaults to reports/out/ with the default --out and to <out>/reports/ when
--out is given (so a run into a scratch directory leaves the checkout's reports/out/ alone).

Shows one progress bar with an ETA, prints the summary table at the end, and builds the report.
Ctrl-C stops every process, keeps the finished cells and marks the run partial (exit code 130).
Exit code 1 when a cell failed to measure (status "error") or the report could not be built.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from core.errors import QueuebenchError
from core.results import Cell, Run
from core.scenario import Scenario
from harness import profiles

DEFAULT_OUT = Path("results")
DEFAULT_REPORTS = Path("reports/out")

console = Console()
if not console.is_terminal:
    console = Console(width=160)  # a log file or CI: wide enough for the summary table


def _names(value: str | None) -> list[str] | None:
    if value is None:
        return None
    names = [v.strip() for v in value.split(",") if v.strip()]
    if not names:
        raise argparse.ArgumentTypeError("expected one or more comma-separated names")
    return names


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--profile", default="default",
                        help=f"how much to measure: {', '.join(profiles.PROFILES)} (default: default)")
    parser.add_argument("--systems", help="comma-separated systems (default: every registered one)")
    parser.add_argument("--scenarios", help="comma-separated scenarios (default: all)")
    parser.add_argument("--workload", help="workload(s) for throughput / latency / memory")
    parser.add_argument("--configs", help="configs to run: NAME (every system that has it) or "
                                          "SYSTEM:NAME, comma-separated")
    parser.add_argument("--redis-url", help="an existing Redis (a database queuebench owns); "
                                            "default: REDIS_URL, else a private embedded Redis")
    parser.add_argument("--out", default=None,
                        help=f"results directory (default: {DEFAULT_OUT})")
    parser.add_argument("--report-dir", default=None,
                        help=f"where the report goes (default: {DEFAULT_REPORTS} with the default "
                             "--out, else <out>/reports)")
    parser.add_argument("--repeat", type=int, default=None, help="repeats of every cell")
    parser.add_argument("--no-report", action="store_true", help="do not build the HTML report")
    parser.add_argument("--rtt", type=float, default=None, metavar="MS",
                        help="add MS ms of round trip between every process and Redis (a "
                             "loopback delay proxy, MS/2 each way; default: the profile's, 0)")
    parser.add_argument("--agents", help="comma-separated hosts whose agents run the workers "
                                         "(`queuebench agent --name HOST`; scenario across_hosts)")
    parser.add_argument("--control", default=None, metavar="URL",
                        help="the agents' control broker (a Redis apart from the one under test)")


def _fmt(value: Any, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "bytes":
        return f"{value / 2**20:.1f} MiB"
    if unit in ("jobs", "attempts") and float(value).is_integer():
        return f"{int(value)}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def summary_table(run: Run) -> Table:
    table = Table(title=f"queuebench {run.run_id} ({run.profile}{', partial' if run.partial else ''})")
    for col in ("scenario", "system", "config", "workload", "params", "metric", "median",
                "min-max", "n", "x floor"):
        table.add_column(col, justify="right" if col in ("median", "min-max", "n", "x floor") else "left")
    declared = {name: Scenario.from_json(d) for name, d in run.scenarios.items()}
    for row in run.summary:
        figure = declared[row["scenario"]].figure(row["metric"]) if row["scenario"] in declared else None
        if figure is None or not figure.headline:
            continue
        params = " ".join(f"{k}={v}" for k, v in row["params"].items())
        ratio = row.get("floor_ratio")
        table.add_row(row["scenario"], row["system"], row["config"], row["workload"], params,
                      f"{row['metric']} ({row['unit']})", _fmt(row["median"], row["unit"]),
                      f"{_fmt(row['min'], row['unit'])}-{_fmt(row['max'], row['unit'])}",
                      str(row["repeats"]), f"{ratio:.3g}" if ratio else "")
    return table


def not_ok_table(run: Run) -> Table | None:
    rows = [c for c in run.cells if c.status != "ok"]
    if not rows:
        return None
    table = Table(title="cells not measured")
    for col in ("cell", "status", "reason"):
        table.add_column(col)
    seen = set()
    for cell in rows:
        key = (cell.scenario, cell.system, cell.config, cell.status, cell.reason)
        if key in seen:
            continue
        seen.add(key)
        table.add_row(cell.id, cell.status, cell.reason[:200])
    return table


def report_dir(args: argparse.Namespace) -> Path:
    """Where this run's report goes (see the module docstring)."""
    if args.report_dir:
        return Path(args.report_dir)
    return DEFAULT_REPORTS if not args.out else Path(args.out) / "reports"


def cmd_run(args: argparse.Namespace) -> int:
    from harness import runner

    try:
        options = runner.RunOptions(
            profile=profiles.get(args.profile),
            systems=_names(args.systems), scenarios=_names(args.scenarios),
            workloads=_names(args.workload), configs=_names(args.configs),
            repeats=args.repeat, out=Path(args.out) if args.out else DEFAULT_OUT,
            redis_url=args.redis_url,
            argv=list(getattr(args, "argv", []) or []), build_report=not args.no_report,
            rtt_ms=getattr(args, "rtt", None),
            agents=_names(getattr(args, "agents", None)), control_url=getattr(args, "control", None),
        )
        runner.plan(options)  # reject bad names before anything starts
    except (QueuebenchError, argparse.ArgumentTypeError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        return 2

    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
               TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn())
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("planning", total=None)

        def progress(label: str, done: int, total: int, cell: Cell | None) -> None:
            bar.update(task, total=total, completed=done, description=label[:60])
            if cell is not None and cell.status != "ok":
                colour = "yellow" if cell.status == "unsupported" else "red"
                bar.console.print(f"  [{colour}]{cell.status}[/{colour}] {cell.id}: {cell.reason[:160]}")

        try:
            run, run_path = runner.execute(options, progress)
        except QueuebenchError as exc:
            bar.stop()
            console.print(f"[red]error:[/red] {exc}")
            return 2
    console.print(summary_table(run))
    extra = not_ok_table(run)
    if extra is not None:
        console.print(extra)
    console.print(f"results: {run_path / 'results.json'}")
    status = 0
    if options.build_report:
        ok, message = runner.build_report(run_path, report_dir(args))
        console.print(message if ok else f"[red]{message}[/red]")
        status = 0 if ok else 1
    if run.partial:
        console.print("[yellow]interrupted: the run is partial; finished cells are kept[/yellow]")
        return 130
    errors = [c for c in run.cells if c.status == "error"]
    if errors:
        console.print(f"[red]{len(errors)} cell(s) failed to measure (status error): see above[/red]")
        return 1
    return status
