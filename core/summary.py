"""The compared figures of a run: one row per (scenario, system, config, workload, figure, key
parameters) with the median of its repeats and their min-max spread, and, where the figure
declares one, its ratio to the baseline (floor) figure measured in the same run. A cell marked
generator-limited (the producer could not offer the load it claims) gives no compared figure.

The figures come from the scenarios' declarations (core.scenario.Figure), so the harness (after
every cell) and the report (for a file written without a summary) build the same rows here.
"""

from __future__ import annotations

import json
import random
import statistics
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from core.scenario import Scenario

BOOTSTRAP_MIN = 5  # below this many repeats an interval is the honest min-max, labelled so
BOOTSTRAP_RESAMPLES = 2000  # resamples of the median: the 2.5 / 97.5 % quantiles settle by then
BOOTSTRAP_SEED = 20261128  # a fixed seed: the same repeats always give the same interval
CONFIDENCE = 0.95
UNSTABLE_SPREAD = 0.25  # (max - min) / median above this: pyperf would warn "unstable"


def _quantile(ordered: Sequence[float], q: float) -> float:
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def _medians(values: Sequence[float], rng: random.Random) -> list[float]:
    """The medians of BOOTSTRAP_RESAMPLES resamples (with replacement), in drawing order."""
    n = len(values)
    return [statistics.median(rng.choices(values, k=n)) for _ in range(BOOTSTRAP_RESAMPLES)]


def interval(values: Sequence[float]) -> tuple[float, float, str]:
    """(low, high, kind) around the median of repeats: the 95 % bootstrap interval of the median
    from BOOTSTRAP_MIN repeats on ("bootstrap95"), else the min-max ("min-max")."""
    nums = sorted(values)
    if len(nums) < BOOTSTRAP_MIN:
        return nums[0], nums[-1], "min-max"
    medians = sorted(_medians(nums, random.Random(BOOTSTRAP_SEED)))
    tail = (1 - CONFIDENCE) / 2
    return _quantile(medians, tail), _quantile(medians, 1 - tail), "bootstrap95"


def ratio_interval(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, str] | None:
    """An interval for median(a) / median(b): bootstrap both sides independently when each has
    BOOTSTRAP_MIN repeats, else the extreme ratios of their min-max ranges."""
    if not a or not b or min(b) <= 0:
        return None
    if len(a) < BOOTSTRAP_MIN or len(b) < BOOTSTRAP_MIN:
        return min(a) / max(b), max(a) / min(b), "min-max"
    rng = random.Random(BOOTSTRAP_SEED)
    ratios = sorted(x / y for x, y in zip(_medians(a, rng), _medians(b, rng), strict=True)
                    if y > 0)
    if not ratios:
        return None
    tail = (1 - CONFIDENCE) / 2
    return _quantile(ratios, tail), _quantile(ratios, 1 - tail), "bootstrap95"


def overlap(a: Sequence[float] | None, b: Sequence[float] | None) -> bool:
    """Whether two [low, high] intervals overlap: then there is no clear difference."""
    return bool(a and b and a[0] <= b[1] and b[0] <= a[1])


def spread(values: Sequence[float | None]) -> dict[str, Any]:
    """Median, min and max of repeats, their interval (see `interval`) and the repeats' values
    (the way every compared figure is shown), with pyperf's warning when the spread is large."""
    nums = [v for v in values if v is not None]
    if not nums:
        return {"median": None, "min": None, "max": None, "repeats": 0}
    median = statistics.median(nums)
    low, high, kind = interval(nums)
    out = {"median": median, "min": min(nums), "max": max(nums), "repeats": len(nums),
           "ci": [low, high], "interval": kind, "values": sorted(nums)}
    if median and (max(nums) - min(nums)) / abs(median) > UNSTABLE_SPREAD:
        out["unstable"] = True
    return out


def build(cells: Iterable[Mapping[str, Any]], scenarios: Mapping[str, Scenario]) -> list[dict[str, Any]]:
    """The summary rows of `cells` (results.json's cell objects) under `scenarios`' figures."""
    groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = defaultdict(list)
    for cell in cells:
        scenario = scenarios.get(cell["scenario"])
        if scenario is None or cell["status"] not in scenario.summarize:
            continue
        if cell["status"] != "ok" and not cell.get("metrics"):
            continue
        if (cell.get("metrics") or {}).get("generator_limited"):
            continue  # its offered load was not what it says: never a compared figure
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
    baseline: dict[str, list[tuple[dict[str, Any], float]]] = defaultdict(list)
    repeats: dict[tuple[str, str], list[float]] = {}
    for r in rows:
        if scenarios[r["scenario"]].baseline and r["median"]:
            baseline[r["metric"]].append((r["params"], r["median"]))
            repeats[(r["metric"], json.dumps(r["params"], sort_keys=True))] = r["values"]
    for row in rows:
        declared = scenarios[row["scenario"]].figure(row["metric"])
        if declared is None or not declared.has_floor(row["workload"]):
            continue
        picked = declared.pick_floor(row["params"], baseline.get(declared.floor or "", []))
        if picked:
            row["floor_ratio"] = round(row["median"] / picked[1], 4)
            row["floor_params"] = dict(picked[0])
            floor_values = repeats[(declared.floor or "", json.dumps(picked[0], sort_keys=True))]
            ratio = ratio_interval(row["values"], floor_values)
            if ratio:
                row["floor_ratio_ci"] = [round(ratio[0], 4), round(ratio[1], 4)]
    return rows
