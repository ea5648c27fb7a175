"""Profiles: how much to measure. Each names, per scenario, the sizes, the workloads and the
configs to run (a config a system does not define is simply not run for it; "*" means all).

- quick:   every system and scenario at small sizes, one repeat; CI runs it (about 3 minutes on
           2 cores).
- default: `tox -e bench`; 3 repeats of every compared figure (about 15 minutes on 2 cores).
- full:    larger sizes and sweeps, 5 repeats, every named config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.scenarios import NAMES as SCENARIOS

# The variants that show what each knob does (names as the adapters define them).
THROUGHPUT_VARIANTS = ["interval-0.1", "nofork", "simple", "threads", "solo", "reliable"]
LATENCY_VARIANTS = ["interval-0.1", "blocking", "nofork", "simple", "threads", "solo"]
MEMORY_VARIANTS = ["nofork", "simple", "threads"]
CRASH_VARIANTS = ["reliable", "acks_late", "nofork"]
RETRY_VARIANTS = ["retry"]  # the Resque clone's resque-retry plugin config
PRIORITY_VARIANTS = ["weighted"]


@dataclass(frozen=True)
class ScenarioPlan:
    sizes: dict[str, Any]
    workloads: list[str] = field(default_factory=lambda: ["noop"])
    configs: list[str] = field(default_factory=lambda: ["default"])


@dataclass(frozen=True)
class Profile:
    name: str
    repeats: int
    scenarios: dict[str, ScenarioPlan]
    description: str = ""


class UnknownProfile(LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"unknown profile {name!r}; valid profiles: {', '.join(PROFILES)}")


QUICK = Profile(
    "quick", 1,
    {
        "floor": ScenarioPlan({"hop_n": 200, "hop_rate": 200.0, "drain_n": 2000, "warmup": 10}),
        "throughput": ScenarioPlan({"n": 60, "concurrency": [1], "warmup": 10, "budget_s": 2.0}),
        "latency": ScenarioPlan({"idle_rate": 5.0, "fractions": [0.5], "duration_s": 1.0,
                                 "min_jobs": 6, "max_jobs": 300, "warmup": 3,
                                 "idle_poll_jobs": 6, "idle_poll_span_s": 25.0}),
        "memory": ScenarioPlan({"concurrency": 2, "n": 10, "idle_s": 0.5, "warmup": 2},
                               workloads=["highlight"]),
        "retries": ScenarioPlan({"n": 2, "fail_first": 1, "max_retries": 2, "delay_s": 0.5,
                                 "backoff": "fixed", "window_s": 15.0},
                                configs=["default", *RETRY_VARIANTS]),
        "crash": ScenarioPlan({"n": 4, "ms": 300, "window_s": 3.0, "warmup": 1,
                               "targets": ["worker", "child"]}),
        "scheduled": ScenarioPlan({"n": 4, "delay_s": 1.0, "spread_s": 2.0, "window_s": 10.0,
                                   "warmup": 1}),
        "priority": ScenarioPlan({"n": 30}),
    },
    "every system and scenario at small sizes, once (CI)",
)

DEFAULT = Profile(
    "default", 3,
    {
        "floor": ScenarioPlan({"hop_n": 600, "hop_rate": 200.0, "drain_n": 10000, "warmup": 20}),
        # noop n is large so a fast system drains for a measurable time (200 jobs last 30 ms
        # at 7,000 jobs/s); the budget stops a slow one after 2 s of completions
        "throughput": ScenarioPlan({"n": {"noop": 2000, "highlight": 40}, "concurrency": [1, 2, 4],
                                    "budget_s": 2.0,
                                    "sweep_workloads": ["noop"], "sweep_configs": ["default"],
                                    "variant_workloads": ["noop"], "warmup": 10},
                                   workloads=["noop", "highlight"],
                                   configs=["default", *THROUGHPUT_VARIANTS]),
        "latency": ScenarioPlan({"idle_rate": 5.0, "fractions": [0.5, 0.9], "duration_s": 1.5,
                                 "min_jobs": 15, "max_jobs": 2000, "warmup": 10,
                                 "idle_poll_jobs": 15, "idle_poll_span_s": 30.0},
                                configs=["default", "interval-0.1", "blocking"]),
        "memory": ScenarioPlan({"concurrency": 4, "n": 30, "idle_s": 0.5, "warmup": 4},
                               workloads=["highlight"], configs=["default", *MEMORY_VARIANTS]),
        "retries": ScenarioPlan({"n": 4, "fail_first": 2, "max_retries": 3, "delay_s": 0.5,
                                 "backoff": "fixed", "window_s": 30.0},
                                configs=["default", *RETRY_VARIANTS]),
        "crash": ScenarioPlan({"n": 6, "ms": 300, "window_s": 3.0, "warmup": 1,
                               "targets": ["worker", "child"]},
                              configs=["default", "reliable", "acks_late"]),
        "scheduled": ScenarioPlan({"n": 12, "delay_s": 1.0, "spread_s": 2.0, "window_s": 20.0,
                                   "warmup": 2}),
        "priority": ScenarioPlan({"n": 100}, configs=["default", *PRIORITY_VARIANTS]),
    },
    "3 repeats of every compared figure (tox -e bench)",
)

FULL = Profile(
    "full", 5,
    {
        "floor": ScenarioPlan({"hop_n": 3000, "hop_rate": 300.0, "drain_n": 50000, "warmup": 50}),
        "throughput": ScenarioPlan({"n": {"noop": 3000, "highlight": 1000, "remote_highlight": 500},
                                    "concurrency": [1, 2, 4, 8], "warmup": 50, "budget_s": 30.0,
                                    "sweep_configs": ["default"],
                                    "variant_workloads": ["noop", "highlight"]},
                                   workloads=["noop", "highlight", "remote_highlight"], configs=["*"]),
        "latency": ScenarioPlan({"idle_rate": 2.0, "fractions": [0.1, 0.25, 0.5, 0.75, 0.9, 0.95],
                                 "duration_s": 8.0, "min_jobs": 40, "max_jobs": 20000,
                                 "idle_poll_jobs": 40, "idle_poll_span_s": 150.0, "warmup": 20},
                                configs=["*"]),
        "memory": ScenarioPlan({"concurrency": 8, "n": 400, "idle_s": 2.0, "warmup": 16},
                               workloads=["highlight"], configs=["*"]),
        "retries": ScenarioPlan({"n": 10, "fail_first": 2, "max_retries": 3, "delay_s": 1.0,
                                 "backoff": "fixed", "window_s": 60.0}, configs=["*"]),
        "crash": ScenarioPlan({"n": 20, "ms": 500, "window_s": 15.0, "warmup": 2,
                               "targets": ["worker", "child"]}, configs=["*"]),
        "scheduled": ScenarioPlan({"n": 20, "delay_s": 3.0, "spread_s": 3.0, "window_s": 30.0,
                                   "warmup": 5},
                                  configs=["*"]),
        "priority": ScenarioPlan({"n": 1000}, configs=["*"]),
    },
    "larger sizes and sweeps, 5 repeats, every named config",
)

PROFILES: dict[str, Profile] = {p.name: p for p in (QUICK, DEFAULT, FULL)}
assert all(set(p.scenarios) == set(SCENARIOS) for p in PROFILES.values())


def get(name: str) -> Profile:
    if name not in PROFILES:
        raise UnknownProfile(name)
    return PROFILES[name]


def select_configs(wanted: list[str], available: list[str]) -> list[str]:
    """The wanted configs a system defines, in order ("*" = all of them, default first)."""
    if "*" in wanted:
        return sorted(available, key=lambda n: (n != "default", n))
    return [name for name in dict.fromkeys(wanted) if name in available]
