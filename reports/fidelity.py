"""The fidelity table: each figure of a clone beside the same figure of the original it copies.

A system names its original in its declaration (core.contract.System.original, recorded in
results.json's systems as "original"), e.g. the Sidekiq clone names real Sidekiq
(sidekiq_ruby). Every compared figure both measured in the same scenario, workload, config and
key parameters gets one row: the clone's median and interval, the original's, the ratio
clone / original with its interval (core.summary.ratio_interval) and, where the two intervals
overlap, "no clear difference". Nothing here is particular to Sidekiq.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core import summary as summaries
from reports import metrics
from reports.run import Run, params_key
from reports.sections import Table


@dataclass
class Pair:
    """One figure measured on the clone and on its original."""

    scenario: str
    label: str
    detail: str
    unit: str
    clone: dict[str, Any]
    original: dict[str, Any]

    @property
    def meaningful(self) -> bool:
        """A ratio means something only between positive figures (not around zero)."""
        return all(v > 0 for v in _values(self.clone) + _values(self.original)) \
            and bool(_values(self.clone)) and bool(_values(self.original))

    @property
    def ratio(self) -> float | None:
        a, b = self.clone.get("median"), self.original.get("median")
        if not self.meaningful or not isinstance(a, int | float) or not isinstance(b, int | float) or not b:
            return None
        return float(a) / float(b)

    @property
    def ratio_ci(self) -> tuple[float, float, str] | None:
        if not self.meaningful:
            return None
        return summaries.ratio_interval(_values(self.clone), _values(self.original))

    @property
    def clear(self) -> bool:
        """The two intervals separate: the clone's figure differs from the original's."""
        return not summaries.overlap(_bounds(self.clone), _bounds(self.original))


def _values(row: dict[str, Any]) -> list[float]:
    values = row.get("values")
    if values:
        return [float(v) for v in values]
    return [float(row[k]) for k in ("min", "max") if isinstance(row.get(k), int | float)]


def _bounds(row: dict[str, Any]) -> list[float] | None:
    ci = row.get("ci")
    if ci:
        return [float(ci[0]), float(ci[1])]
    if isinstance(row.get("min"), int | float) and isinstance(row.get("max"), int | float):
        return [float(row["min"]), float(row["max"])]
    return None


def originals(run: Run) -> dict[str, str]:
    """{clone: original} for every system of the run that names an original the run measured."""
    measured = {c["system"] for c in run.cells if c["status"] == "ok"}
    out = {}
    for system, info in run.systems.items():
        original = (info or {}).get("original")
        if isinstance(original, str) and system in measured and original in measured:
            out[system] = original
    return out


def pairs(run: Run, clone: str, original: str) -> list[Pair]:
    """Every headline figure both systems measured with the same scenario, config, workload and
    key parameters, in the run's row order."""
    def key(r: dict[str, Any]) -> tuple[str, ...]:
        return (r["scenario"], r["config"], r["workload"], r["metric"], params_key(r["params"]))

    theirs = {key(r): r for r in run.summary if r["system"] == original}
    out = []
    for r in run.summary:
        if r["system"] != clone or key(r) not in theirs:
            continue
        figure = run.figure(r["scenario"], r["metric"])
        if not figure.headline:
            continue
        detail = metrics.params_label(r["params"], r["scenario"])
        where = " · ".join(x for x in (r["workload"], r["config"] if r["config"] != "default" else "",
                                       detail) if x)
        out.append(Pair(r["scenario"], f"{run.scenario_title(r['scenario'])}: {figure.label}", where,
                        r.get("unit", ""), r, theirs[key(r)]))
    return out


def _shown(row: dict[str, Any], unit: str) -> str:
    b = _bounds(row)
    n = int(row.get("repeats") or 0)
    text = metrics.fmt(row.get("median"), unit)
    if b and n > 1:
        text += (f" ({metrics.fmt_range(b[0], b[1], unit)}, "
                 f"{metrics.interval_label(row.get('interval'), n)})")
    return text


def table(run: Run) -> Table | None:
    """The fidelity table of the run: one row per figure of each clone beside its original."""
    rows = []
    for clone, original in originals(run).items():
        for p in pairs(run, clone, original):
            ci = p.ratio_ci
            ratio = metrics.fmt_ratio(p.ratio) or "— (a figure near zero)"
            if ci:
                kind = "95 % bootstrap CI" if ci[2] == "bootstrap95" else "from the min–max"
                ratio += f" ({metrics.fmt_ratio_range(ci[0], ci[1])}, {kind})"
            rows.append([f"{p.label}{' · ' + p.detail if p.detail else ''}",
                         f"{run.title(clone)} / {run.title(original)}",
                         _shown(p.clone, p.unit), _shown(p.original, p.unit), ratio,
                         "differs" if p.clear else "no clear difference"])
    if not rows:
        return None
    return Table("fidelity", "Each figure of a clone beside the original it copies, measured in the "
                 "same run: medians with their intervals and the ratio clone / original",
                 ["figure", "clone / original", "clone", "original", "ratio", "verdict"],
                 rows, {2, 3, 4}, collapsed=len(rows) > 24)


def explain(run: Run) -> list[str]:
    """One sentence per clone: how many figures differ clearly from the original's."""
    out = []
    for clone, original in originals(run).items():
        found = pairs(run, clone, original)
        if not found:
            continue
        differ = [p for p in found if p.clear]
        out.append(f"{run.title(clone)} against {run.title(original)}: {len(differ)} of {len(found)} "
                   "headline figures differ with separate intervals; the others show no clear difference.")
    return out
