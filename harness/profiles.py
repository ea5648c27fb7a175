"""Profiles: how much to measure. A profile is a name, a number of repeats and a sentence; what
each scenario runs under it (sizes, workloads, configs) is declared by the scenario itself
(core.scenario.Scenario.profiles).

- quick:   every system and scenario at small sizes, one repeat; CI runs it (8 systems, 14
           scenarios, 163 cells: about 7.5 minutes on 2 cores at load 1-3; of the cells' time
           72 % is measuring and 25 % the workers' own boot, 0.3-1.7 s a start; each cell's
           `timings` in results.json say where its time went).
- default: `tox -e bench`; 3 repeats of every compared figure (507 cell runs, 29 min 45 s on 2
           cores at load 0.1-1.9, measured whole: 76 % measuring, 18 % boot). A cell refused in
           its first repeat is not run again.
- full:    larger sizes and sweeps, 5 repeats, every named config.
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
    Profile("full", 5, "larger sizes and sweeps, 5 repeats, every named config"),
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
