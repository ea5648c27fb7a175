"""The report's own command line, so building a page needs nothing above core:

    python -m reports build RUN_DIR [--out DIR]        a run's page: DIR/<run-id>/index.html
    python -m reports compare RUN_A RUN_B [--out PATH] two runs side by side

`queuebench report` / `queuebench compare` and the end of `queuebench run` start this as its own
process (the harness never imports reports: architecture.md's layers). It prints the page's path
and exits 0; a results folder it cannot read is one line on stderr and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from core.errors import ResultsError

DEFAULT_OUT = Path("reports/out")


def _write_page(label: str, write: Callable[[], Path]) -> int:
    try:
        path = write()
    except ResultsError as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 2
    print(f"{label}: {path}", flush=True)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m reports",
                                     description="Build the HTML report of queuebench runs.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p = sub.add_parser("build", help="a run's page: <out>/<run-id>/index.html (and <out>/latest)")
    p.add_argument("run_dir", type=Path, metavar="RUN_DIR")
    p.add_argument("--out", type=Path, default=DEFAULT_OUT)
    p = sub.add_parser("compare", help="two runs side by side; changes beyond the spread flagged")
    p.add_argument("run_a", type=Path, metavar="RUN_A")
    p.add_argument("run_b", type=Path, metavar="RUN_B")
    p.add_argument("--out", type=Path, default=None)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "build":
        from reports.page import build

        return _write_page("report", lambda: build(args.run_dir, args.out))
    from reports.diff import compare

    return _write_page("comparison", lambda: compare(args.run_a, args.run_b, args.out))
