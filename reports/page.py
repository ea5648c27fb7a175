"""Builds one run's report: reports/out/<run-id>/index.html, its data files, latest/, the index.

    reports.build(Path("results/20261127-231500"))  ->  reports/out/20261127-231500/index.html

The page is one file that works offline: the CSS is inlined, every plot is inline SVG, there is no
script and no link off the machine. Beside it: results.json, summary.csv, cells.csv and the
probe records (raw/). reports/out/latest/ is a copy of the newest run's folder, and
reports/out/index.html lists every run built under the same folder.
"""

from __future__ import annotations

import importlib
import json
import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from core.errors import ResultsError
from core.scenario import Hook, Scenario
from reports import exports, fidelity, metrics, tables, teach
from reports.figures import Plot
from reports.run import FLOOR, Run, load
from reports.sections import Table, generic_table

TEMPLATES = Path(__file__).parent / "templates"
RUN_META = "run.json"


@dataclass
class Section:
    id: str
    title: str
    method: str
    plots: list[Plot] = field(default_factory=list)
    teach: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    missing: str = ""
    html: str = ""


def environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["j2", "html"]),
                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.globals.update(fmt=metrics.fmt, fmt_ratio=metrics.fmt_ratio, fmt_ratio_range=metrics.fmt_ratio_range,
                       css=(TEMPLATES / "style.css").read_text(),
                       built=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))
    return env


def safe_id(run_id: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", run_id):
        raise ResultsError(f"run id {run_id!r} cannot name a folder: use letters, digits, '.', '_' or '-'")
    return run_id


# ---------------------------------------------------------------------------------------------
# sections


def _missing(run: Run, scenario: str) -> str:
    if run.cells_of(scenario, status=None):
        return ""
    why = " (the run was interrupted before it)" if run.partial else f" (profile {run.data.get('profile', '?')})"
    return f"Not measured in this run{why}."


def configs_section(run: Run, env: Environment) -> str:
    return env.get_template("configs.html.j2").render(run=run, meta=run.metadata, floor=FLOOR,
                                                        not_ok=run.not_ok())


CONFIGS_METHOD = "Every system's exact configuration and the machine the run was measured on."
FIDELITY_METHOD = ("A clone names the system it copies; here each of its headline figures stands beside the "
                   "original's from the same run, with the ratio and its interval.")
RAW_METHOD = "The data behind every figure on this page, next to it in this folder."


def resolve(hook: Hook | None) -> Callable[[Run], Any] | None:
    """A section hook, "package.module:function" (or the function), as a callable."""
    if hook is None or callable(hook):
        return hook
    module, _, attr = hook.partition(":")
    target: Any = importlib.import_module(module)
    for part in attr.split("."):
        target = getattr(target, part)
    return target  # type: ignore[no-any-return]


def scenario_sections(run: Run, name: str, declared: Scenario) -> list[Section]:
    """The report sections a scenario declares, filled by its hooks; a section with no hooks
    (or whose hooks cannot be loaded here) shows the generic table of the scenario's figures."""
    out = []
    shared = ""
    if name in (run.metadata.get("side_by_side") or []) and run.data.get("profile") != "quick":
        shared = (f" Its cells ran {run.metadata.get('parallel')} at once, each on a database "
                  "of its own: its figures are counts, or waits of a second or more, which a "
                  "neighbour's use of the CPU does not move.")
    for spec in declared.report_sections():
        section = Section(spec.id, spec.title, spec.method + shared, missing=_missing(run, name))
        try:
            plot, explain, table = (resolve(spec.plot), resolve(spec.explain), resolve(spec.table))
        except (ImportError, AttributeError) as exc:
            plot = explain = table = None
            section.teach = [f"The section's own plots and notes could not be loaded here ({exc})."]
        section.plots = plot(run) if plot else []
        section.teach += explain(run) if explain else []
        hooked = spec.plot or spec.explain or spec.table
        made = table(run) if table else (None if hooked else generic_table(run, name))
        section.tables = [made] if made else []
        out.append(section)
    return out


def sections(run: Run, env: Environment) -> list[Section]:
    out = [Section("summary", "Summary", "")]
    made = fidelity.table(run)
    if made:
        out.append(Section("fidelity", "Fidelity: each clone beside its original", FIDELITY_METHOD,
                           tables=[made], teach=fidelity.explain(run)))
    for name, declared in run.scenarios.items():
        out.extend(scenario_sections(run, name, declared))
    out.append(Section("configs", "Configs & metadata", CONFIGS_METHOD, html=configs_section(run, env)))
    out.append(Section("raw", "Raw data", RAW_METHOD))
    return out


# ---------------------------------------------------------------------------------------------
# build


def _duration(run: Run) -> str:
    try:
        a = datetime.fromisoformat(str(run.data["started"]).replace("Z", "+00:00"))
        b = datetime.fromisoformat(str(run.data["finished"]).replace("Z", "+00:00"))
    except (KeyError, ValueError):
        return ""
    secs = (b - a).total_seconds()
    return f"{int(secs // 60)} min {int(secs % 60)} s" if secs >= 60 else f"{secs:.0f} s"


def render(run: Run, out_dir: Path) -> str:
    """The page's HTML; writes the data files it links into out_dir."""
    env = environment()
    groups = tables.summary(run)
    links = exports.write(run, tables.summary(run, variants=True, everything=True), out_dir)
    secs = sections(run, env)
    raw = next(s for s in secs if s.id == "raw")
    raw.html = env.get_template("links.html.j2").render(links=links)
    ok = sum(1 for c in run.cells if c["status"] == "ok")
    return env.get_template("report.html.j2").render(
        run=run, meta=_Meta(run.metadata), columns=tables.columns(run), groups=groups,
        variants=tables.variants(run),
        summary_teach=_quick_safe(run, teach.summary(run)), sections=secs, duration=_duration(run),
        quick=run.data.get("profile") == "quick", load_note=_load_note(run, groups),
        counts={"ok": ok, "other": len(run.cells) - ok})


def _load_note(run: Run, groups: list[tables.Group]) -> str:
    """The page's warning when figures were measured on a loaded machine (pyperf's advice)."""
    entries = [e for g in groups for row in g.rows for e in row.entries.values() if e.status == "ok"]
    loaded = sum(1 for e in entries if any("load average" in w for w in e.warnings))
    if not loaded:
        return ""
    at_start = run.metadata.get("loadavg")
    start = f" (1-minute load average {at_start[0]:g} on {run.metadata.get('cores', '?')} cores when the run began)" \
        if isinstance(at_start, list) and at_start else ""
    return (f"{loaded} of {len(entries)} figures were measured while the machine was busy{start}: other "
            "work shared the CPUs, so their spread is wider and their medians may be lower than on an idle "
            "machine. Read the intervals; re-run on a quiet machine before quoting them.")


def _quick_safe(run: Run, lines: list[str]) -> list[str]:
    """A quick run's sentences without the ratios its tiny samples make meaningless."""
    if run.data.get("profile") != "quick":
        return lines
    return [line for line in lines if "×" not in line]


class _Meta(dict):  # type: ignore[type-arg]
    """Metadata for the header: a missing key reads as '?' rather than failing the page."""

    def __getattr__(self, key: str) -> Any:
        value = self.get(key)
        return "?" if value in (None, "") else value


def build(run_dir: Path, out_root: Path = Path("reports/out")) -> Path:
    """Render the report of the run in run_dir; return the path of its index.html."""
    run = load(Path(run_dir))
    out_root = Path(out_root)
    run_id = safe_id(run.run_id)
    out_root.mkdir(parents=True, exist_ok=True)
    staging = out_root / f".{run_id}.building"
    if staging.exists():
        shutil.rmtree(staging)
    staging.mkdir()
    try:
        html = render(run, staging)
        (staging / "index.html").write_text(html, encoding="utf-8")
        (staging / RUN_META).write_text(json.dumps({
            "run_id": run_id, "profile": run.data.get("profile"), "partial": run.partial,
            "started": run.data.get("started"), "finished": run.data.get("finished"),
            "host": run.metadata.get("host"), "systems": run.system_names(),
            "cells": len(run.cells)}, indent=1))
        final = out_root / run_id
        if final.exists():
            shutil.rmtree(final)
        staging.rename(final)
    finally:
        if staging.exists():
            shutil.rmtree(staging)
    write_index(out_root)
    return final / "index.html"


def list_runs(out_root: Path) -> list[dict[str, Any]]:
    runs = []
    for meta in sorted(Path(out_root).glob(f"*/{RUN_META}")):
        if meta.parent.name == "latest" or meta.parent.name.startswith("."):
            continue
        try:
            data = json.loads(meta.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        data["dir"] = meta.parent.name
        runs.append(data)
    runs.sort(key=lambda r: str(r.get("run_id")), reverse=True)
    return runs


def write_index(out_root: Path) -> Path:
    """reports/out/index.html (every run, newest first) and latest/ (a copy of the newest)."""
    runs = list_runs(out_root)
    latest = out_root / "latest"
    if runs:
        newest = out_root / runs[0]["dir"]
        if latest.is_symlink() or latest.is_file():
            latest.unlink()
        elif latest.exists():
            shutil.rmtree(latest)
        shutil.copytree(newest, latest)
    compares = sorted(p.parent.name for p in out_root.glob("compare-*/index.html"))
    html = environment().get_template("runs.html.j2").render(
        runs=runs, latest=runs[0]["run_id"] if runs else None, compares=compares)
    index = out_root / "index.html"
    index.write_text(html, encoding="utf-8")
    return index
