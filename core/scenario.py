"""What a scenario declares, once: the one place the harness, the summary, results.json, the
report and `queuebench list` learn what a scenario is, what it measures and how to show it.

    SCENARIO = Scenario(
        name="scheduled",
        title="Scheduled jobs",
        method="Jobs scheduled with a delay: actual start minus planned time.",
        figures=(Figure("error_ms.p50", "ms", "start error p50", "lower", headline=True), ...),
        key_params=("delay_s",),
        profiles={"quick": Plan({"n": 4}), "default": Plan({"n": 12}), "full": Plan({"n": 20})},
        run=run,                                  # one cell: CellContext -> metrics dict
        workload="noop",                          # fixed, or None: the profile's workloads
    )

A figure is spelled once, as the path of its value in a cell's metrics ("latency_us.p99" is
metrics["latency_us"]["p99"]); the summary, the report's tables and `queuebench compare` all
name it so. The callables (`run`, `cells`) belong to the harness, which documents their
signatures (harness/scenarios/common.py); the report hooks of a Section are "module:function"
names, resolved only by the report, so declaring a scenario imports no plotting library.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal

from core.errors import UnknownName

PROFILE_NAMES = ("quick", "default", "full")
FALLBACK_PROFILE = "default"  # a scenario that declares no plan for a profile runs its default plan

Better = Literal["higher", "lower"] | None
Hook = str | Callable[..., Any]  # "package.module:function", or the function itself


def hook_name(hook: Hook | None) -> str | None:
    """A hook as "module:qualname" (how results.json records it), or None."""
    if hook is None or isinstance(hook, str):
        return hook
    return f"{hook.__module__}:{hook.__qualname__}"


@dataclass(frozen=True)
class Figure:
    """One compared figure of a scenario.

    key: the path of the value in a cell's metrics ("latency_us.p50"); also its name everywhere.
    unit: "us", "ms", "s", "jobs/s", "bytes", "jobs", "fraction", "attempts", ...
    label: how a reader calls it ("latency p50").
    better: "higher", "lower", or None where neither is (a share, a policy's own delay).
    floor: the key of the baseline figure this one is a multiple of (None: no floor ratio).
    floor_workloads: the workloads for which that multiple means something (None: all).
    floor_match: (param of this figure, param of the floor) that pick which floor cell divides
      it, e.g. ("concurrency", "connections"): a 10-thread worker against the 10-connection
      floor; the nearest floor at or above the value, else the largest (None: the only one).
    headline: shown in the summary tables (every figure is in results.json and summary.csv).
    rank: whether "x best" means anything (not for counts where 0 is common).
    """

    key: str
    unit: str
    label: str
    better: Better = None
    floor: str | None = None
    floor_workloads: tuple[str, ...] | None = None
    floor_match: tuple[str, str] | None = None
    headline: bool = False
    rank: bool = True

    def value(self, metrics: Mapping[str, Any]) -> float | None:
        """This figure's number in a cell's metrics, or None (missing, or not a number)."""
        value: Any = metrics
        for part in self.key.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return None
            value = value[part]
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)

    def has_floor(self, workload: str) -> bool:
        return self.floor is not None and (self.floor_workloads is None
                                           or workload in self.floor_workloads)

    def describe(self) -> dict[str, Any]:
        return {"key": self.key, "unit": self.unit, "label": self.label, "better": self.better,
                "floor": self.floor,
                "floor_workloads": list(self.floor_workloads) if self.floor_workloads else None,
                "floor_match": list(self.floor_match) if self.floor_match else None,
                "headline": self.headline, "rank": self.rank}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Figure:
        fw, fm = data.get("floor_workloads"), data.get("floor_match")
        return cls(str(data["key"]), str(data.get("unit", "")), str(data.get("label", data["key"])),
                   data.get("better"), data.get("floor"), tuple(fw) if fw else None,
                   (str(fm[0]), str(fm[1])) if fm else None,
                   bool(data.get("headline")), bool(data.get("rank", True)))

    def pick_floor(self, params: Mapping[str, Any], floors: Sequence[tuple[Mapping[str, Any], float]]
                   ) -> tuple[Mapping[str, Any], float] | None:
        """Which of `floors` ([(floor params, value)] of this figure's floor figure) divides a
        figure with `params` (see floor_match)."""
        if not floors:
            return None
        if self.floor_match is None:
            return floors[0]
        mine, theirs = self.floor_match
        want = params.get(mine)
        keyed = sorted(((float(p[theirs]), p, v) for p, v in floors
                        if isinstance(p.get(theirs), int | float)), key=lambda t: t[0])
        if not isinstance(want, int | float) or not keyed:
            return floors[0]
        above = [(p, v) for n, p, v in keyed if n >= want]
        return above[0] if above else (keyed[-1][1], keyed[-1][2])


@dataclass(frozen=True)
class Plan:
    """What one profile runs of a scenario: sizes (the scenario's own knobs), the workloads (when
    the scenario has no fixed one) and the named configs ("*" = every config of a system).
    in_profile=False: the profile runs it only when asked for by name (--scenarios), e.g. a
    ten-minute soak that belongs to the full profile but can be tried briefly in another.
    repeats: how many repeats this scenario runs under the profile (None: the profile's own;
    --repeat overrides either), e.g. a lesson whose failure is shown in one slow repeat."""

    sizes: Mapping[str, Any]
    workloads: tuple[str, ...] = ("noop",)
    configs: tuple[str, ...] = ("default",)
    in_profile: bool = True
    repeats: int | None = None


@dataclass(frozen=True)
class Section:
    """One section of the report. The hooks take the report's Run: plot -> list of plots,
    explain -> list of paragraphs, table -> a table or None. A section without hooks shows the
    scenario's figures in a generic table; one without a method says the scenario's."""

    id: str
    title: str
    method: str = ""
    plot: Hook | None = None
    explain: Hook | None = None
    table: Hook | None = None

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "title": self.title, "method": self.method,
                "plot": hook_name(self.plot), "explain": hook_name(self.explain),
                "table": hook_name(self.table)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Section:
        return cls(str(data["id"]), str(data.get("title", data["id"])), str(data.get("method", "")),
                   data.get("plot"), data.get("explain"), data.get("table"))


@dataclass(frozen=True)
class Scenario:
    """A scenario, declared once (see the module docstring).

    needs: scenarios whose cells this one reads from the same run (they run first; the harness
      hands their finished cells over read-only, e.g. latency reads throughput's drain rate).
    baseline: runs once per run, not once per system (the floor every system is divided by).
    summarize: the cell statuses whose figures enter the summary ("unsupported" too for a
      scenario that still reports what became of the jobs, e.g. retries without retries).
    order: the place in the run and on the page (lower first; ties by name).
    alone: its cells read server-wide counters (INFO): never run beside another cell, even in
      a profile that runs cells at once.
    shares: its figures are counts, or waits of a second or more, that a neighbour's use of
      the CPU does not move: a profile that runs cells at once (Profile.parallel) runs this
      scenario's cells side by side, each on a database of its own. A smoke-test profile
      (quick) runs every scenario but an `alone` one that way.
    """

    name: str
    title: str
    method: str
    figures: tuple[Figure, ...]
    profiles: Mapping[str, Plan]
    run: Callable[..., dict[str, Any]] | None = None  # None only in a declaration read back
    cells: Callable[..., list[Any]] | None = None
    key_params: tuple[str, ...] = ()
    workload: str | None = None
    needs: tuple[str, ...] = ()
    baseline: bool = False
    sections: tuple[Section, ...] = ()
    summarize: tuple[str, ...] = ("ok",)
    order: int = 100
    description: str = ""  # one line for `queuebench list`
    alone: bool = False
    shares: bool = False

    def plan(self, profile: str) -> Plan:
        if profile in self.profiles:
            return self.profiles[profile]
        if FALLBACK_PROFILE in self.profiles:
            return self.profiles[FALLBACK_PROFILE]
        raise UnknownName("profile", profile, list(self.profiles), where=f"of scenario {self.name!r}")

    def figure(self, key: str) -> Figure | None:
        return next((f for f in self.figures if f.key == key), None)

    def report_sections(self) -> tuple[Section, ...]:
        """The report sections, in page order (one plain section when none is declared)."""
        return tuple(replace(s, method=s.method or self.method)
                     for s in self.sections or (Section(self.name, self.title),))

    def key_of(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """The parameters that tell this scenario's compared figures apart."""
        return {k: params[k] for k in self.key_params if k in params}

    def describe(self) -> dict[str, Any]:
        """What results.json records of the declaration (everything but the harness's code)."""
        return {"name": self.name, "title": self.title, "method": self.method,
                "description": self.description,
                "figures": [f.describe() for f in self.figures], "key_params": list(self.key_params),
                "workload": self.workload, "needs": list(self.needs), "baseline": self.baseline,
                "summarize": list(self.summarize), "order": self.order,
                "sections": [s.describe() for s in self.report_sections()]}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Scenario:
        """A declaration as results.json records it: no harness code and no profiles, which is
        all a report needs (it renders a run without importing the scenario's module)."""
        name = str(data["name"])
        return cls(name=name, title=str(data.get("title", name)),
                   method=str(data.get("method", "")),
                   figures=tuple(Figure.from_json(f) for f in data.get("figures") or ()),
                   profiles={}, key_params=tuple(data.get("key_params") or ()),
                   workload=data.get("workload"), needs=tuple(data.get("needs") or ()),
                   baseline=bool(data.get("baseline")),
                   summarize=tuple(data.get("summarize") or ("ok",)),
                   order=int(data.get("order", 100)), description=str(data.get("description", "")),
                   sections=tuple(Section.from_json(s) for s in data.get("sections") or ()))
