"""The compared figures of a run: one row per (scenario, system, config, workload, figure, key
parameters) with the median of its repeats and their min-max spread, and, where the figure
declares one, its ratio to the baseline (floor) figure measured in the same run.

The figures come from the scenarios' declarations (core.scenario.Figure), so the harness (after
every cell) and the report (for a file written without a summary) build the same rows here.
"""

from __future__ import annotations

import json
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from core.scenario import Scenario


def spread(values: Sequence[float | None]) -> dict[str, Any]:
    """Median, min and max of repeats (the way every compared figure is shown)."""
    nums = [v for v in values if v is not None]
    if not nums:
        return {"median": None, "min": None, "max": None, "repeats": 0}
    return {"median": statistics.median(nums), "min": min(nums), "max": max(nums),
            "repeats": len(nums)}


def build(cells: Iterable[Mapping[str, Any]], scenarios: Mapping[str, Scenario]) -> list[dict[str, Any]]:
    """The summary rows of `cells` (results.json's cell objects) under `scenarios`' figures."""
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = defaultdict(list)
    for cell in cells:
        scenario = scenarios.get(cell["scenario"])
        if scenario is None or cell["status"] not in scenario.summarize:
            continue
        if cell["status"] != "ok" and not cell.get("metrics"):
            continue
        kp = json.dumps(scenario.key_of(cell.get("params") or {}), sort_keys=True)
        groups[(cell["scenario"], cell["system"], cell["config"], cell["workload"], kp)].append(cell)
    rows: list[dict[str, Any]] = []
    for (name, system, config, workload, kp), group in groups.items():
        for figure in scenarios[name].figures:
            values = [v for v in (figure.value(c.get("metrics") or {}) for c in group)
                      if v is not None]
            if values:
                rows.append({"scenario": name, "system": system, "config": config,
                             "workload": workload, "metric": figure.key, "unit": figure.unit,
                             **spread(values), "params": json.loads(kp)})
    baseline = {r["metric"]: r["median"] for r in rows
                if scenarios[r["scenario"]].baseline and r["median"]}
    for row in rows:
        declared = scenarios[row["scenario"]].figure(row["metric"])
        if declared and declared.has_floor(row["workload"]) and baseline.get(declared.floor or ""):
            row["floor_ratio"] = round(row["median"] / baseline[declared.floor or ""], 4)
    return rows
