"""The five lessons on the real systems, small: each "before" reproduces its failure (lost
updates, pool timeouts, duplicated mails, duplicate runs, fast jobs held behind a slow one) and
each fix removes it; a lesson runs alone from the CLI; a scenario's own repeats; bad options of
the lesson workloads are clear errors."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from core import registry
from core.errors import UsageError, WorkloadError
from core.scenario import Plan, Scenario
from harness import runner
from harness.calibration import CalibrationSystem
from harness.profiles import Profile
from reports import lessons
from reports.run import load
from workloads import registry as workloads

QUICK = Profile("quick", 1)
ROOT = Path(__file__).resolve().parent.parent


Cells = dict[tuple[str, str, str], dict[str, Any]]


def lesson_run(tmp_path: Path, redis_url: str, scenario: str, systems: list[str],
               sizes: dict[str, Any] | None = None) -> tuple[Cells, Path]:
    """Run one lesson on real systems; its cells by (system, config, side), and the run's
    directory."""
    declared = registry.scenarios()[scenario]
    if sizes is not None:
        quick = declared.plan("quick")
        declared = replace(declared, profiles={"quick": replace(quick, sizes={**quick.sizes,
                                                                              **sizes})})
    run, path = runner.execute(runner.RunOptions(
        profile=QUICK, systems=systems, scenarios=[scenario], scenario_decls={scenario: declared},
        out=tmp_path / "results", redis_url=redis_url, build_report=False))
    cells = {(c.system, c.config, str(c.params.get("side"))): c.to_json() for c in run.cells}
    for key, c in cells.items():
        assert c["status"] == "ok", (key, c["reason"])
    return cells, path


def test_a_lesson_runs_alone_from_the_cli_and_threads_lose_updates_a_lock_none(
        tmp_path: Path, redis_url: str) -> None:
    out = tmp_path / "results"
    done = subprocess.run(
        [sys.executable, "-m", "harness.cli", "run", "--profile", "quick", "--scenarios",
         "thread_safety", "--systems", "sidekiq_clone,rq", "--out", str(out), "--no-report",
         "--redis-url", redis_url], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    (run_dir,) = [p.parent for p in out.glob("*/results.json")]
    data = json.loads((run_dir / "results.json").read_text())
    assert {c["scenario"] for c in data["cells"]} == {"thread_safety"}
    lost = {(c["system"], c["params"]["side"]): c["metrics"]["lost_updates"] for c in data["cells"]}
    assert lost[("sidekiq_clone", "before")] > 0  # 10 threads share the module global
    assert lost[("sidekiq_clone", "after")] == 0  # under the lock
    assert lost[("rq", "before")] == lost[("rq", "after")] == 0  # one job at a time per process
    said = " ".join(lessons.thread_safety(load(run_dir)))
    assert "updates were lost" in said and "with the lock none was lost" in said


def test_a_pool_smaller_than_the_threads_makes_jobs_wait_and_time_out_a_sized_one_does_not(
        tmp_path: Path, redis_url: str) -> None:
    cells, _ = lesson_run(tmp_path, redis_url, "pool_size", ["sidekiq_clone"])
    before = cells[("sidekiq_clone", "default", "before")]["metrics"]
    after = cells[("sidekiq_clone", "default", "after")]["metrics"]
    assert (before["pool"], after["pool"]) == (2, 10)
    assert before["timeouts"] > 0 and before["wait_ms"]["max"] >= 200  # timeout_s 0.25
    assert after["timeouts"] == 0 and after["wait_ms"]["p50"] < before["wait_ms"]["p50"]


def test_retries_repeat_the_side_effect_and_an_idempotency_key_sends_it_once(
        tmp_path: Path, redis_url: str) -> None:
    cells, _ = lesson_run(tmp_path, redis_url, "retry_side_effects", ["sidekiq_clone"],
                       {"n": 2, "fail_first": 2})
    before = cells[("sidekiq_clone", "default", "before")]["metrics"]
    after = cells[("sidekiq_clone", "default", "after")]["metrics"]
    assert before["succeeded"] == after["succeeded"] == 2
    assert before["mails"] == 6 and before["duplicates"] == 4  # sent on each of 3 attempts
    assert after["mails"] == 2 and after["duplicates"] == 0


def test_celery_runs_a_job_twice_past_its_visibility_timeout_and_not_under_a_longer_one(
        tmp_path: Path, redis_url: str) -> None:
    cells, path = lesson_run(tmp_path, redis_url, "visibility_timeout",
                             ["celery", "sidekiq_clone"],
                             {"countdown_s": 3.0, "long_ms": 3000, "grace_s": 4.0})
    short = cells[("celery", "visibility_short", "before")]["metrics"]
    long_ = cells[("celery", "visibility_long", "after")]["metrics"]
    reliable = cells[("sidekiq_clone", "reliable", "same")]["metrics"]
    assert short["eta_runs"] >= 2 and short["duplicates"] >= 1
    assert long_["duplicates"] == 0 and long_["eta_runs"] == long_["long_runs"] == 1
    assert reliable["duplicates"] == 0 and reliable["eta_runs"] == reliable["long_runs"] == 1
    said = lessons.visibility_timeout(load(path))
    assert any("visibility_timeout 2.00 s" in s and "duplicates" in s for s in said)
    assert any("No Streams-based system" in s for s in said)


def test_celery_prefetch_holds_fast_jobs_behind_a_slow_one_fair_and_brpop_do_not(
        tmp_path: Path, redis_url: str) -> None:
    cells, path = lesson_run(tmp_path, redis_url, "prefetch", ["celery", "sidekiq_clone"],
                             {"slow_ms": 3000, "n": 8})
    default = cells[("celery", "default", "before")]["metrics"]
    fair = cells[("celery", "fair", "after")]["metrics"]
    brpop = cells[("sidekiq_clone", "c1", "same")]["metrics"]
    assert default["held_behind_slow"] >= 1 and default["fast_wait_ms"]["max"] > 2000
    assert fair["held_behind_slow"] == 0 and brpop["held_behind_slow"] == 0
    assert fair["fast_wait_ms"]["max"] < default["fast_wait_ms"]["max"]
    table = lessons.prefetch_table(load(path))
    assert table is not None
    held = {(row[0], row[1]): row[4] for row in table.rows}
    assert held[("Celery (fair)", "after the fix")] == "0"


def test_dramatiq_prefetch_holds_a_fast_job_behind_a_slow_one_a_prefetch_of_one_does_not(
        tmp_path: Path, redis_url: str) -> None:
    cells, path = lesson_run(tmp_path, redis_url, "prefetch", ["dramatiq"],
                             {"slow_ms": 2000, "n": 8})
    default = cells[("dramatiq", "default", "before")]["metrics"]
    one = cells[("dramatiq", "prefetch1", "after")]["metrics"]
    assert default["held_behind_slow"] >= 1 and default["prefetch_multiplier"] == 2
    assert one["held_behind_slow"] == 0 and one["prefetch_multiplier"] == 1
    said = lessons.prefetch(load(path))
    assert any("prefetch multiplier 2" in s and "held behind" in s for s in said)


def test_a_lesson_that_does_not_apply_says_why(tmp_path: Path, redis_url: str) -> None:
    cells = runner.plan(runner.RunOptions(profile=QUICK, systems=["rq", "resque_clone"],
                                          scenarios=["visibility_timeout", "pool_size"],
                                          out=tmp_path, redis_url=redis_url)).cells
    reasons = {(c.scenario, c.system): str(c.params.get("not_applicable")) for c in cells}
    assert "visibility timeout" in reasons[("visibility_timeout", "resque_clone")]
    assert "one job at a time" in reasons[("pool_size", "rq")]


# -- a scenario's own repeats --------------------------------------------------------------


def _throughput(repeats: int | None) -> dict[str, Scenario]:
    declared = registry.scenarios()["throughput"]
    return {"throughput": replace(declared, profiles={"two": Plan(
        {"n": 20, "concurrency": [1], "warmup": 2}, repeats=repeats)})}


def test_a_scenario_runs_its_own_repeats_and_repeat_overrides_them(tmp_path: Path,
                                                                   redis_url: str) -> None:
    def cells(repeats: int | None, override: int | None) -> int:
        run, _ = runner.execute(runner.RunOptions(
            profile=Profile("two", 2), system_classes={"calibration": CalibrationSystem},
            scenarios=["throughput"], scenario_decls=_throughput(repeats), repeats=override,
            out=tmp_path / f"{repeats}-{override}", redis_url=redis_url, build_report=False))
        return len(run.cells)

    assert cells(None, None) == 2  # the profile's two repeats
    assert cells(1, None) == 1  # the scenario's own
    assert cells(1, 2) == 2  # --repeat decides


def test_a_plan_of_no_repeats_is_refused(tmp_path: Path, redis_url: str) -> None:
    with pytest.raises(UsageError, match="fewer than 1 repeat"):
        runner.plan(runner.RunOptions(
            profile=Profile("two", 2), system_classes={"calibration": CalibrationSystem},
            scenarios=["throughput"], scenario_decls=_throughput(0), out=tmp_path))


# -- bad options of the lesson workloads ----------------------------------------------------


@pytest.mark.parametrize(("workload", "options", "message"), [
    ("ledger", {"fix": "mutex"}, "valid: none, lock"),
    ("ledger", {"gap_ms": -1}, "non-negative"),
    ("pooled", {}, "needs redis_url"),
    ("pooled", {"redis_url": "redis://x", "pool": 0}, "positive"),
    ("mailer", {"fix": "dedupe"}, "valid: none, idempotent"),
    ("mailer", {"fail_first": "2"}, "whole number"),
])
def test_a_lesson_workload_refuses_a_bad_option_clearly(tmp_path: Path, workload: str,
                                                         options: dict[str, Any],
                                                         message: str) -> None:
    with pytest.raises(WorkloadError, match=message):
        workloads.create(workload, tmp_path, options)
