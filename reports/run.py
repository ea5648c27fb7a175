"""Reads one run's results.json into a Run the report can ask questions of.

The format is core's (core/results.py; an older schema is migrated on read). What each
scenario measured, how its figures are named and which way is better, and which report
sections show it, come from the scenarios' declarations the file carries (core.scenario); a
file written before they were recorded takes the declarations of the scenarios installed. The
summary (median and spread over repeats) is derived with core.summary when a file has none: an
interrupted run may have been written before its summary was.
"""

from __future__ import annotations

import json
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import registry, results
from core import summary as summaries
from core.errors import ResultsError
from core.results import FLOOR
from core.scenario import Figure, Scenario

__all__ = ["FLOOR", "Run", "dig", "load", "params_key"]


def dig(data: Any, path: str) -> Any:
    """data["a"]["b"] for path "a.b"; None when any step is missing."""
    value = data
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def params_key(params: dict[str, Any] | None) -> str:
    return json.dumps(params or {}, sort_keys=True)


@dataclass
class Run:
    path: Path  # the run directory (holds results.json and raw/)
    data: dict[str, Any]
    cells: list[dict[str, Any]] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)
    summary_derived: bool = False
    scenarios: dict[str, Scenario] = field(default_factory=dict)  # declarations, in page order
    memo: dict[Any, Any] = field(default_factory=dict, repr=False)  # answers computed once per run

    def scenario_title(self, name: str) -> str:
        declared = self.scenarios.get(name)
        return declared.title if declared else name

    def figure(self, scenario: str, key: str) -> Figure:
        """The declaration of a figure; an undeclared one gets a plain label and no direction."""
        declared = self.scenarios.get(scenario)
        found = declared.figure(key) if declared else None
        return found or Figure(key, "", key.replace("_", " ").replace(".", " "))

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

    def baselines(self) -> list[str]:
        """The scenarios measured once per run as the floor (declared baseline)."""
        return [name for name, s in self.scenarios.items() if s.baseline]

    def floor_value(self, path: str) -> float | None:
        """The floor's figure at `path` (e.g. "hop_latency_us.p50"): median over its repeats."""
        rows = [r for name in self.baselines() for r in self.rows(name, path)]
        if rows and rows[0]["median"] is not None:
            return float(rows[0]["median"])
        values = [dig(c["metrics"], path) for name in self.baselines() for c in self.cells_of(name)]
        nums = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
        return statistics.median(nums) if nums else None


def declarations(data: dict[str, Any]) -> dict[str, Scenario]:
    """The scenarios of a run, in page order: as the file records them (every scenario the run
    planned, measured or not); a file written before runs recorded them (schema 1) takes every
    installed scenario, and a scenario a file lacks is taken as installed, if it is."""
    recorded = {name: Scenario.from_json(d) for name, d in (data.get("scenarios") or {}).items()}
    used = {c.get("scenario") for c in data.get("cells") or [] if isinstance(c, dict)}
    wanted = used if recorded else set(registry.scenario_names()) | used
    missing = [name for name in wanted if isinstance(name, str) and name not in recorded]
    if missing:
        installed = registry.scenarios()
        for name in missing:
            if name in installed:
                recorded[name] = Scenario.from_json(installed[name].describe())
    return dict(sorted(recorded.items(), key=lambda kv: (kv[1].order, kv[0])))


def load(path: Path) -> Run:
    """Load and check a run; raise ResultsError with the reason when it cannot be used."""
    file = results.results_file(path)
    data = results.read(file)
    cells = data.get("cells")
    if not isinstance(cells, list):
        raise ResultsError(f"{file} has no 'cells' list")
    clean: list[dict[str, Any]] = []
    for i, c in enumerate(cells):
        missing = [k for k in ("scenario", "system", "status") if not isinstance(c, dict) or k not in c]
        if missing:
            raise ResultsError(f"{file}: cell {i} lacks {', '.join(missing)}")
        clean.append({"id": c.get("id") or f"cell-{i}", "config": c.get("config") or "default",
                      "workload": c.get("workload") or "", "params": c.get("params") or {},
                      "repeat": c.get("repeat", 0), "reason": c.get("reason") or "",
                      "metrics": c.get("metrics") or {}, "raw": c.get("raw"),
                      "load_before": c.get("load_before"),
                      **{k: c[k] for k in ("scenario", "system", "status")}})
    run = Run(path=file.parent, data=data, cells=clean, scenarios=declarations(data))
    summary = data.get("summary")
    if isinstance(summary, list) and summary:
        run.summary = [dict(r, params=r.get("params") or {}, config=r.get("config") or "default",
                            workload=r.get("workload") or "")
                       for r in summary if isinstance(r, dict) and "median" in r and "system" in r]
    else:
        run.summary = summaries.build(clean, run.scenarios)
        run.summary_derived = True
    return run
