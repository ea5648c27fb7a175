"""The compared figures of a run: one row per (scenario, system, config, workload, metric,
parameters) with the median of its repeats and the min-max spread, and, where it means
something, the ratio to the floor measured in the same run (throughput: system / floor, higher
is better; latency: system / floor hop, lower is better).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from harness.metrics import spread

Getter = Callable[[dict[str, Any]], float | None]


def _get(*path: str) -> Getter:
    def get(metrics: dict[str, Any]) -> float | None:
        value: Any = metrics
        for key in path:
            if not isinstance(value, dict) or key not in value:
                return None
            value = value[key]
        return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    return get


def _attempts_per_job(metrics: dict[str, Any]) -> float | None:
    jobs = metrics.get("jobs") or []
    return sum(len(j["attempts"]) for j in jobs) / len(jobs) if jobs else None


def _succeeded(metrics: dict[str, Any]) -> float | None:
    jobs = metrics.get("jobs")
    return float(sum(1 for j in jobs if j["final"] == "succeeded")) if jobs else None


# scenario -> [(metric, unit, getter, floor metric to divide by or None)]
FIGURES: dict[str, list[tuple[str, str, Getter, str | None]]] = {
    "floor": [
        ("hop_p50_us", "us", _get("hop_latency_us", "p50"), None),
        ("hop_p99_us", "us", _get("hop_latency_us", "p99"), None),
        ("throughput_per_s", "jobs/s", _get("throughput_per_s"), None),
    ],
    "throughput": [
        ("throughput_per_s", "jobs/s", _get("throughput_per_s"), "throughput_per_s"),
        ("wall_s", "s", _get("wall_s"), None),
    ],
    "latency": [
        ("latency_p50_us", "us", _get("latency_us", "p50"), "hop_p50_us"),
        ("latency_p90_us", "us", _get("latency_us", "p90"), None),
        ("latency_p99_us", "us", _get("latency_us", "p99"), "hop_p99_us"),
        ("latency_p99_9_us", "us", _get("latency_us", "p99_9"), None),
        ("latency_max_us", "us", _get("latency_us", "max"), None),
        ("offered_rate", "jobs/s", _get("offered_rate"), None),
        ("achieved_rate", "jobs/s", _get("achieved_rate"), None),
    ],
    "memory": [
        (f"{phase}_{kind}", "bytes", _get(phase, kind), None)
        for phase in ("idle", "peak") for kind in ("uss", "pss", "rss")
    ],
    "retries": [
        ("succeeded", "jobs", _succeeded, None),
        ("attempts_per_job", "attempts", _attempts_per_job, None),
        ("time_to_success_p50_s", "s", _get("time_to_success_s", "p50"), None),
        ("time_to_success_max_s", "s", _get("time_to_success_s", "max"), None),
    ],
    "crash": [
        *[(k, "jobs", _get("counts", k), None)
          for k in ("completed", "duplicate", "failed", "pending", "lost")],
        ("recovery_s", "s", _get("recovery_s"), None),
    ],
    "scheduled": [
        ("error_p50_ms", "ms", _get("error_ms", "p50"), None),
        ("error_p99_ms", "ms", _get("error_ms", "p99"), None),
        ("error_max_ms", "ms", _get("error_ms", "max"), None),
    ],
    "priority": [
        ("high_share", "fraction", _get("share", "high"), None),
    ],
}

# the parameters that identify a compared figure (the rest, like a derived rate, vary by repeat)
KEY_PARAMS: dict[str, list[str]] = {
    "floor": [],
    "throughput": ["n", "concurrency"],
    "latency": ["load", "concurrency"],
    "memory": ["concurrency"],
    "retries": ["fail_first", "max_retries", "delay_s", "backoff"],
    "crash": ["target", "ms"],
    "scheduled": ["delay_s"],
    "priority": ["n"],
}

# the figures the end-of-run table shows (the file has them all)
HEADLINE = {"hop_p50_us", "throughput_per_s", "latency_p50_us", "latency_p99_us", "peak_uss",
            "idle_uss", "time_to_success_p50_s", "succeeded", "lost", "duplicate", "error_p50_ms",
            "high_share"}


def key_params(scenario: str, params: dict[str, Any]) -> dict[str, Any]:
    return {k: params[k] for k in KEY_PARAMS.get(scenario, []) if k in params}


def build(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    groups: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for cell in cells:
        if cell["status"] != "ok" and not (cell["scenario"] == "retries" and cell["metrics"]):
            continue
        kp = key_params(cell["scenario"], cell["params"])
        key = (cell["scenario"], cell["system"], cell["config"], cell["workload"],
               json.dumps(kp, sort_keys=True))
        groups[key].append(cell)
    rows: list[dict[str, Any]] = []
    for (scenario, system, config, workload, kp), group in groups.items():
        for metric, unit, getter, _ in FIGURES.get(scenario, []):
            values = [v for v in (getter(c["metrics"]) for c in group) if v is not None]
            if not values:
                continue
            rows.append({"scenario": scenario, "system": system, "config": config,
                         "workload": workload, "metric": metric, "unit": unit,
                         **spread(values), "params": json.loads(kp)})
    floor = {r["metric"]: r["median"] for r in rows if r["scenario"] == "floor"}
    for row in rows:
        for metric, _, _, floor_metric in FIGURES.get(row["scenario"], []):
            if metric == row["metric"] and floor_metric and floor.get(floor_metric):
                row["floor_ratio"] = round(row["median"] / floor[floor_metric], 4)
    return rows
