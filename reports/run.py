"""Reads one run's results.json into a Run the report can ask questions of.

The format is the harness's (harness/results.py owns it; schema 1). This module only reads:
it checks the few things the report cannot do without, says clearly what is wrong with a file
that is not a results file, and derives the summary (median and spread over repeats) when a
file has none — an interrupted run may have been written before its summary was.
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SCHEMA = 1
FLOOR = "redis-py"
SCENARIOS = ("floor", "throughput", "latency", "memory", "retries", "crash", "scheduled", "priority")

# The figures compared per scenario when a file carries no summary: (metric path, unit).
FIGURES: dict[str, list[tuple[str, str]]] = {
    "floor": [("hop_latency_us.p50", "us"), ("hop_latency_us.p99", "us"),
              ("throughput_per_s", "jobs/s")],
    "throughput": [("throughput_per_s", "jobs/s"), ("wall_s", "s")],
    "latency": [("latency_us.p50", "us"), ("latency_us.p99", "us")],
    "memory": [("idle.uss", "bytes"), ("peak.uss", "bytes"), ("peak.pss", "bytes"),
               ("peak.rss", "bytes")],
    "retries": [("time_to_success_s.p50", "s")],
    "crash": [("counts.lost", "jobs"), ("counts.duplicate", "jobs"), ("counts.failed", "jobs")],
    "scheduled": [("error_ms.p50", "ms"), ("error_ms.p99", "ms")],
    "priority": [("share.high", "fraction")],
}


class ReportError(Exception):
    """A run directory or results file the report cannot use; the message says why."""


def dig(data: Any, path: str) -> Any:
    """data["a"]["b"] for path "a.b"; None when any step is missing."""
    value = data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


# The harness names summary figures flat ("latency_p99_us", "peak_uss", "lost"); the report names
# a figure by its path into the cell's metrics ("latency_us.p99", "peak.uss", "counts.lost"), so a
# figure and the data behind it are found the same way. Both spellings are read.
_CANONICAL: list[tuple[str, str]] = [
    (r"hop_(p\w+?|max|min|mean)_us", r"hop_latency_us.\1"),
    (r"latency_(p\w+?|max|min|mean)_us", r"latency_us.\1"),
    (r"(idle|peak)_(uss|pss|rss|processes)", r"\1.\2"),
    (r"(completed|duplicate|failed|pending|lost)", r"counts.\1"),
    (r"error_(p\w+?|max|min)_ms", r"error_ms.\1"),
    (r"(high|default)_share", r"share.\1"),
    (r"time_to_success_(p50|max)_s", r"time_to_success_s.\1"),
]


def canonical(metric: str) -> str:
    for pattern, path in _CANONICAL:
        if re.fullmatch(pattern, metric):
            return re.sub(pattern, path, metric)
    return metric


def params_key(params: dict[str, Any] | None) -> str:
    return json.dumps(params or {}, sort_keys=True)


@dataclass
class Run:
    path: Path  # the run directory (holds results.json and raw/)
    data: dict[str, Any]
    cells: list[dict[str, Any]] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)
    summary_derived: bool = False
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)  # answers computed once per run

    @property
    def run_id(self) -> str:
        return str(self.data.get("run_id") or self.path.name)

    @property
    def metadata(self) -> dict[str, Any]:
        return self.data.get("metadata") or {}

    @property
    def systems(self) -> dict[str, Any]:
        return self.data.get("systems") or {}

    @property
    def partial(self) -> bool:
        return bool(self.data.get("partial"))

    def title(self, system: str) -> str:
        """A system's short name for tables and prose: "RQ" of "RQ (real library): fork-per-job ..."."""
        if system == FLOOR:
            return "Floor (redis-py)"
        full = self.full_title(system)
        return re.split(r"\s*[(:—]", full, maxsplit=1)[0].strip() or full

    def full_title(self, system: str) -> str:
        if system == FLOOR:
            return "bare redis-py LPUSH → BRPOP on the same Redis"
        return str((self.systems.get(system) or {}).get("title") or system)

    def config(self, system: str, config: str) -> dict[str, Any]:
        configs = (self.systems.get(system) or {}).get("configs") or {}
        return configs.get(config) or {}

    def system_names(self) -> list[str]:
        """Systems in the file's order, then any that only appear in cells; the floor excluded."""
        names = [s for s in self.systems if s != FLOOR]
        for c in self.cells:
            if c["system"] not in names and c["system"] != FLOOR:
                names.append(c["system"])
        return names

    def cells_of(self, scenario: str, status: str | None = "ok") -> list[dict[str, Any]]:
        return [c for c in self.cells
                if c["scenario"] == scenario and (status is None or c["status"] == status)]

    def not_ok(self, scenario: str | None = None) -> list[dict[str, Any]]:
        """Cells that produced no figures (unsupported / error / skipped), one per distinct
        system, config, workload and params (repeats folded)."""
        seen: dict[tuple[str, ...], dict[str, Any]] = {}
        for c in self.cells:
            if c["status"] == "ok" or (scenario and c["scenario"] != scenario):
                continue
            key = (c["scenario"], c["system"], c["config"], c["workload"], params_key(c["params"]),
                   c["status"])
            seen.setdefault(key, c)
        return list(seen.values())

    def rows(self, scenario: str | None = None, metric: str | None = None) -> list[dict[str, Any]]:
        return [r for r in self.summary
                if (scenario is None or r["scenario"] == scenario)
                and (metric is None or r["metric"] == metric)]

    def floor_value(self, path: str) -> float | None:
        """The floor's figure at `path` (e.g. "hop_latency_us.p50"): median over its repeats."""
        rows = self.rows("floor", path)
        if rows and rows[0]["median"] is not None:
            return float(rows[0]["median"])
        values = [dig(c["metrics"], path) for c in self.cells_of("floor")]
        nums = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        return statistics.median(nums) if nums else None


def results_file(path: Path) -> Path:
    """The results.json of a run directory (or the file itself)."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    if not path.is_file():
        raise ReportError(f"no results file at {path}: pass a run directory "
                          "(results/<run-id>/) that holds results.json")
    return path


def load(path: Path) -> Run:
    """Load and check a run; raise ReportError with the reason when it cannot be used."""
    file = results_file(path)
    try:
        data = json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise ReportError(f"{file} is not valid JSON ({exc.msg} at line {exc.lineno}); "
                          "was the run interrupted while writing it?") from exc
    if not isinstance(data, dict):
        raise ReportError(f"{file} does not hold a results object")
    schema = data.get("schema")
    if schema != SCHEMA:
        raise ReportError(f"{file} has results schema {schema!r}; this report reads schema "
                          f"{SCHEMA}: rebuild it with the queuebench version that wrote it")
    cells = data.get("cells")
    if not isinstance(cells, list):
        raise ReportError(f"{file} has no 'cells' list")
    clean: list[dict[str, Any]] = []
    for i, c in enumerate(cells):
        missing = [k for k in ("scenario", "system", "status") if not isinstance(c, dict) or k not in c]
        if missing:
            raise ReportError(f"{file}: cell {i} lacks {', '.join(missing)}")
        clean.append({"id": c.get("id") or f"cell-{i}", "config": c.get("config") or "default",
                      "workload": c.get("workload") or "", "params": c.get("params") or {},
                      "repeat": c.get("repeat", 0), "reason": c.get("reason") or "",
                      "metrics": c.get("metrics") or {}, "raw": c.get("raw"),
                      **{k: c[k] for k in ("scenario", "system", "status")}})
    run = Run(path=file.parent, data=data, cells=clean)
    summary = data.get("summary")
    if isinstance(summary, list) and summary:
        run.summary = [dict(r, metric=canonical(str(r.get("metric"))), params=r.get("params") or {},
                            config=r.get("config") or "default", workload=r.get("workload") or "")
                       for r in summary if isinstance(r, dict) and "median" in r and "system" in r]
    else:
        run.summary = derive_summary(clean)
        run.summary_derived = True
    return run


def derive_summary(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Median and min-max over the repeats of every ok cell, for the figures in FIGURES."""
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for c in cells:
        if c["status"] == "ok":
            key = (c["scenario"], c["system"], c["config"], c["workload"], params_key(c["params"]))
            groups.setdefault(key, []).append(c)
    out = []
    for members in groups.values():
        first = members[0]
        for metric, unit in FIGURES.get(first["scenario"], []):
            values = [v for v in (dig(m["metrics"], metric) for m in members)
                      if isinstance(v, int | float) and not isinstance(v, bool)]
            if values:
                out.append({"scenario": first["scenario"], "system": first["system"],
                            "config": first["config"], "workload": first["workload"],
                            "metric": metric, "unit": unit, "median": statistics.median(values),
                            "min": min(values), "max": max(values), "repeats": len(values),
                            "params": first["params"]})
    return out
