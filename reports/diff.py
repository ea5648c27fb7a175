"""`queuebench compare RUN_A RUN_B`: the summary tables of two runs side by side.

Every figure of either run gets one line: A's median and interval, B's, the change, and each as a
multiple of its own run's floor. A change is flagged only when the two intervals separate (the
95 % bootstrap CI of the median from 5 repeats on, else the min–max of the repeats): a change
inside overlapping intervals is noise on these shared machines. Figures from different machines or days differ in absolute terms anyway, so the
page says when the two runs' hosts or versions differ and the floor multiples are the fairer read.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core import summary as summaries
from reports import metrics, tables
from reports.page import environment, safe_id, write_index
from reports.run import FLOOR, Run, load
from reports.tables import Entry


@dataclass
class Change:
    scenario: str
    label: str
    detail: str
    system: str
    a: Entry | None
    b: Entry | None
    unit: str
    better: str | None

    @property
    def delta(self) -> float | None:
        if not self._both:
            return None
        return float(self.b.median) - float(self.a.median)  # type: ignore[union-attr,arg-type]

    @property
    def _both(self) -> bool:
        return bool(self.a and self.b and self.a.status == "ok" and self.b.status == "ok"
                    and self.a.median is not None and self.b.median is not None)

    @property
    def change(self) -> float | None:
        if not self._both or not self.a.median:  # type: ignore[union-attr]
            return None
        return self.delta / abs(float(self.a.median))  # type: ignore[operator,union-attr,arg-type]

    @property
    def spread(self) -> float:
        """The wider of the two runs' intervals (for the text)."""
        out = 0.0
        for e in (self.a, self.b):
            b = e.bounds if e else None
            if b is not None:
                out = max(out, b[1] - b[0])
        return out

    @property
    def flagged(self) -> bool:
        """The intervals of A and B separate (neither overlaps the other)."""
        if self.delta is None or self.delta == 0:
            return False
        a, b = self.a.bounds if self.a else None, self.b.bounds if self.b else None
        if a is None or b is None:
            return abs(self.delta) > self.spread
        return not summaries.overlap(a, b)

    @property
    def verdict(self) -> str:
        """"better" / "worse" for a flagged change of a figure with a direction, else ""."""
        d = self.delta
        if not self.flagged or self.better is None or d is None or d == 0:
            return ""
        return "better" if (d > 0) == (self.better == "higher") else "worse"

    def text(self, e: Entry | None) -> str:
        if e is None:
            return "—"
        if e.status != "ok":
            return e.status
        return e.text

    def spread_text(self, e: Entry | None) -> str:
        return e.spread if e and e.status == "ok" else ""

    @property
    def change_text(self) -> str:
        c = self.change
        if c is None:
            if self.a is None:
                return "new in B"
            if self.b is None:
                return "absent in B"
            return "" if self.delta is None else metrics.fmt(self.delta, self.unit)
        return f"{c * 100:+.1f} %"

    def floor_text(self) -> str:
        ra = self.a.ratio_floor if self.a else None
        rb = self.b.ratio_floor if self.b else None
        if ra is None and rb is None:
            return ""
        return f"{metrics.fmt_ratio(ra) or '—'} → {metrics.fmt_ratio(rb) or '—'}"


def _load(path: Path) -> Run:
    return load(Path(path))


def changes(a: Run, b: Run) -> list[Change]:
    ga, gb = tables.summary(a), tables.summary(b)
    out: dict[tuple[str, ...], Change] = {}
    order: list[tuple[str, ...]] = []
    for side, groups in (("a", ga), ("b", gb)):
        run = a if side == "a" else b
        for g in groups:
            for row in g.rows:
                for (system, config), e in row.entries.items():
                    key = (row.scenario, row.workload, row.metric, row.detail, system, config)
                    if key not in out:
                        title = run.title(system) + ("" if config == "default" else f" ({config})")
                        out[key] = Change(row.scenario, row.label + (f" · {row.workload}" if row.workload and
                                                                       row.scenario != "floor" else ""),
                                          row.detail, title, None, None, row.unit, row.better)
                        order.append(key)
                    setattr(out[key], side, e)
    return [out[k] for k in order]


def notes(a: Run, b: Run, rows: list[Change]) -> list[str]:
    out = []
    ma, mb = a.metadata, b.metadata
    for key, what in (("host", "host"), ("cpu_model", "CPU"), ("cores", "core count"), ("python", "Python"),
                      ("redis_version", "Redis version")):
        if ma.get(key) != mb.get(key):
            out.append(f"The {what} differs: {ma.get(key, '?')} in A, {mb.get(key, '?')} in B — absolute figures "
                       "are not comparable; read the × floor column.")
    pa, pb = ma.get("packages") or {}, mb.get("packages") or {}
    moved = [f"{k} {pa.get(k, '—')} → {pb.get(k, '—')}" for k in sorted(set(pa) | set(pb)) if pa.get(k) != pb.get(k)]
    if moved:
        out.append("Package versions changed: " + ", ".join(moved) + ".")
    flagged = [r for r in rows if r.flagged]
    out.append(f"{len(flagged)} of {sum(1 for r in rows if r.delta is not None)} figures measured in both runs "
               "changed with separate intervals (the others: no clear difference).")
    ranked = sorted((r for r in flagged if r.change is not None), key=lambda r: abs(r.change or 0), reverse=True)
    for r in ranked[:5]:
        out.append(f"{r.system}, {r.label}{f' ({r.detail})' if r.detail else ''}: {r.text(r.a)} → {r.text(r.b)} "
                   f"({r.change_text}{', ' + r.verdict if r.verdict else ''}; spread {metrics.fmt(r.spread, r.unit)}).")
    for run, tag in ((a, "A"), (b, "B")):
        if run.partial:
            out.append(f"Run {tag} ({run.run_id}) was interrupted: figures absent from it were not reached.")
    return out


def compare(run_a: Path, run_b: Path, out: Path | None = None) -> Path:
    """Write the comparison page of two runs; return the path of its HTML file."""
    a, b = _load(run_a), _load(run_b)
    default_root = Path("reports/out")
    if out is None:
        out = default_root / f"compare-{safe_id(a.run_id)}-vs-{safe_id(b.run_id)}" / "index.html"
    out = Path(out)
    if out.suffix.lower() != ".html":
        out = out / "index.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    rows = changes(a, b)
    groups: dict[str, list[Change]] = {}
    for r in rows:
        groups.setdefault(r.scenario, []).append(r)
    titled = [(b.scenario_title(s) if s in b.scenarios else a.scenario_title(s), g)
              for s, g in groups.items()]
    html = environment().get_template("compare.html.j2").render(
        a=a, b=b, groups=titled, notes=notes(a, b, rows), floor=FLOOR)
    out.write_text(html, encoding="utf-8")
    with (out.parent / "compare.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["scenario", "figure", "params", "system", "unit", "a_median", "a_min", "a_max",
                    "b_median", "b_min", "b_max", "change", "spread", "flagged", "verdict",
                    "a_low", "a_high", "a_interval", "b_low", "b_high", "b_interval"])
        for r in rows:
            w.writerow([r.scenario, r.label, r.detail, r.system, r.unit, *_nums(r.a), *_nums(r.b),
                        "" if r.change is None else f"{r.change:.4f}", f"{r.spread:.6g}", r.flagged, r.verdict,
                        *_interval(r.a), *_interval(r.b)])
    if out.parent.parent.resolve() == default_root.resolve() and (default_root / "index.html").exists():
        write_index(default_root)
    return out


def _nums(e: Entry | None) -> list[Any]:
    if e is None or e.status != "ok":
        return ["", "", ""]
    return [e.median, e.lo, e.hi]


def _interval(e: Entry | None) -> list[Any]:
    """low, high and kind ("bootstrap95" / "min-max") of the interval a change was judged by."""
    b = e.bounds if e and e.status == "ok" else None
    if b is None or e is None:
        return ["", "", ""]
    return [b[0], b[1], e.interval if e.ci else "min-max"]
