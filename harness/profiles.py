"""Profiles: how much to measure. A profile is a name, a number of repeats and a sentence; what
each scenario runs under it (sizes, workloads, configs) is declared by the scenario itself
(core.scenario.Scenario.profiles).

- quick:   a smoke test, CI runs it: every system and scenario at small sizes, once, in each
           system's main config (and a lesson's two sides), 4 cells of a scenario at once (the
           floor and rtt alone);
           163 cells in about 3 minutes on 2 cores (README: Time budget).
- default: `tox -e bench`: each system's main config 3 times (every compared figure is a
           median of 3), other configs once; the scenarios that share the machine (counts,
           waits of seconds: Scenario.shares) 4 cells at once, the rest one at a time; 420 cell
           runs in 13 min 46 s on 2 cores, measured whole. A cell refused in its first repeat is
           not run again.
- full:    larger sizes and 15-step sweeps, 5 repeats, every named config, 20 kills per crash
           cell, a 10-minute soak per system: 3,788 cell runs, an overnight job.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import UnknownName
from core.scenario import PROFILE_NAMES


@dataclass(frozen=True)
class Profile:
    name: str
    repeats: int
    description: str = ""
    rtt_ms: float = 0.0  # round trip added between every process and Redis (queuebench run --rtt)
    agents: tuple[str, ...] = ()  # hosts whose agents run the workers (queuebench run --agents)
    control_url: str = ""  # their control broker (queuebench run --control)
    # a config other than a system's main one ("default") runs at most this many times: the
    # Variants table shows what one knob changes (an order of magnitude, labelled "1 run"),
    # the compared figures of the summary are the main configs' (None: every config alike)
    variant_repeats: int | None = None
    # cells of one scenario run at once, each on its own database: those of a scenario that
    # declares it `shares` the machine (counts, waits of seconds), or, in a smoke test (quick,
    # whose figures say that everything runs, not how fast), of every scenario but an `alone`
    # one; 1 = one cell at a time
    parallel: int = 1
    smoke: bool = False


PROFILES: dict[str, Profile] = {p.name: p for p in (
    Profile("quick", 1, "every system and scenario at small sizes, once, 4 cells at once (CI)",
            parallel=4, smoke=True),
    Profile("default", 3, "3 repeats of every compared figure, other configs once (tox -e bench)",
            variant_repeats=1, parallel=4),
    Profile("full", 5, "larger sizes and sweeps, 5 repeats, every named config",
            parallel=4),
)}
assert tuple(PROFILES) == PROFILE_NAMES


def get(name: str) -> Profile:
    if name not in PROFILES:
        raise UnknownName("profile", name, list(PROFILES))
    return PROFILES[name]


def select_configs(wanted: list[str] | tuple[str, ...], available: list[str]) -> list[str]:
    """The wanted configs a system defines, in order ("*" = all of them, default first)."""
    if "*" in wanted:
        return sorted(available, key=lambda n: (n != "default", n))
    return [name for name in dict.fromkeys(wanted) if name in available]
