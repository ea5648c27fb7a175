"""A cell refused outright in its first repeat (NotSupported, no figures) is recorded as refused
in every later repeat without being run again; one that says "unsupported" and still reports
figures runs every repeat."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from core.errors import NotSupported
from core.scenario import Figure, Plan, Scenario
from harness import runner
from harness.calibration import CalibrationSystem
from harness.profiles import Profile
from harness.scenarios.common import CellContext

THREE = Profile("three", 3)


def _scenario(name: str, body: Any) -> dict[str, Scenario]:
    return {name: Scenario(name=name, title=name, method="counts its runs",
                           figures=(Figure("runs", "jobs", "runs"),),
                           profiles={"three": Plan({})}, run=body, workload="noop")}


def _execute(tmp_path: Path, redis_url: str, decls: dict[str, Scenario]) -> list[Any]:
    run, _ = runner.execute(runner.RunOptions(
        profile=THREE, system_classes={"calibration": CalibrationSystem},
        scenarios=list(decls), scenario_decls=decls, out=tmp_path, redis_url=redis_url,
        build_report=False))
    return run.cells


def test_a_refused_cell_runs_once_and_every_repeat_says_why(tmp_path: Path,
                                                            redis_url: str) -> None:
    calls: list[int] = []

    def refuse(ctx: CellContext) -> dict[str, Any]:
        calls.append(ctx.repeat)
        raise NotSupported("calibration has no such thing")

    cells = _execute(tmp_path, redis_url, _scenario("refusal", refuse))
    assert calls == [0]
    assert [c.repeat for c in cells] == [0, 1, 2]
    assert {c.status for c in cells} == {"unsupported"}
    assert {c.reason for c in cells} == {"calibration has no such thing"}
    assert len({c.id for c in cells}) == 3


def test_an_unsupported_cell_with_figures_runs_every_repeat(tmp_path: Path,
                                                            redis_url: str) -> None:
    calls: list[int] = []

    def report_anyway(ctx: CellContext) -> dict[str, Any]:
        calls.append(ctx.repeat)
        ctx.status, ctx.reason = "unsupported", "no retries, but the jobs are accounted for"
        return {"runs": len(calls)}

    cells = _execute(tmp_path, redis_url, _scenario("partial", report_anyway))
    assert calls == [0, 1, 2]
    assert [c.metrics["runs"] for c in cells] == [1, 2, 3]
