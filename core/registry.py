"""Find systems and scenarios by name, through entry points, as workloads are found.

    [project.entry-points."queuebench.systems"]
    rq = "comparisons.rq_adapter.adapter:RQSystem"          # a core.contract.System subclass

    [project.entry-points."queuebench.scenarios"]
    latency = "harness.scenarios.latency:SCENARIO"          # a core.scenario.Scenario

The built-ins are registered the same way, in this project's pyproject.toml, so another package
adds a system or a scenario without editing this repository. Nothing is imported until it is
asked for: a system whose client library is missing is unavailable (SystemUnavailable names the
package to install) and every other system still works.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import Any

from core.contract import System
from core.errors import SystemUnavailable, UnknownName, UsageError
from core.scenario import Scenario

SYSTEMS_GROUP = "queuebench.systems"
UNAVAILABLE_LAST = 10**6  # a system that cannot be imported sorts after every available one
SCENARIOS_GROUP = "queuebench.scenarios"


def _group(name: str) -> dict[str, EntryPoint]:
    return {ep.name: ep for ep in entry_points(group=name)}


# -- systems ------------------------------------------------------------------------------------


def system_names() -> list[str]:
    """Every registered system, in run and report order (System.order, then name; a system that
    cannot be imported here comes last)."""
    def place(name: str) -> tuple[int, str]:
        try:
            return (system(name).order, name)
        except SystemUnavailable:
            return (UNAVAILABLE_LAST, name)

    return sorted(_group(SYSTEMS_GROUP), key=place)


def system(name: str) -> type[System]:
    """The System subclass registered as `name` (imported on first use)."""
    eps = _group(SYSTEMS_GROUP)
    if name not in eps:
        raise UnknownName("system", name, sorted(eps))
    try:
        cls = eps[name].load()
    except ImportError as exc:
        raise SystemUnavailable(
            f"system {name!r} is unavailable: {exc}. Install the missing package "
            f"({exc.name or 'see the message'}) with pip."
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, System)):
        raise TypeError(f"system {name!r} ({eps[name].value}) is not a core.contract.System")
    return cls


def describe_systems() -> list[dict[str, Any]]:
    """One row per registered system: its configs and features, or why it is unavailable."""
    rows = []
    for name in system_names():
        try:
            cls = system(name)
            rows.append({"name": name, "title": cls.title, "configs": sorted(cls.configs),
                         "supports": sorted(cls.supports), "available": True, "reason": ""})
        except SystemUnavailable as exc:
            rows.append({"name": name, "title": "", "configs": [], "supports": [],
                         "available": False, "reason": str(exc)})
    return rows


# -- scenarios ----------------------------------------------------------------------------------


@cache
def _scenarios() -> tuple[dict[str, Scenario], dict[str, str]]:
    """(loaded scenarios in order, {name: why it cannot be loaded}): a broken plug-in is set
    aside with its reason instead of taking every other scenario down with it."""
    out: dict[str, Scenario] = {}
    broken: dict[str, str] = {}
    for name, ep in _group(SCENARIOS_GROUP).items():
        try:
            declared = ep.load()
        except Exception as exc:
            broken[name] = f"{ep.value} cannot be imported: {type(exc).__name__}: {exc}"
            continue
        if not isinstance(declared, Scenario):
            broken[name] = f"{ep.value} is not a core.scenario.Scenario"
        elif declared.name != name:
            broken[name] = f"{ep.value} declares a scenario named {declared.name!r}"
        else:
            out[name] = declared
    return dict(sorted(out.items(), key=lambda kv: (kv[1].order, kv[0]))), broken


def scenarios() -> dict[str, Scenario]:
    """Every loadable registered scenario by name, in run and page order (Scenario.order, then
    name)."""
    return dict(_scenarios()[0])


def scenario_names() -> list[str]:
    return list(_scenarios()[0])


def broken_scenarios() -> dict[str, str]:
    """Registered scenarios that cannot be loaded here, with the reason."""
    return dict(_scenarios()[1])


def scenario(name: str) -> Scenario:
    found, broken = _scenarios()
    if name in broken:
        raise UsageError(f"scenario {name!r} cannot be loaded: {broken[name]}")
    if name not in found:
        raise UnknownName("scenario", name, list(found))
    return found[name]
