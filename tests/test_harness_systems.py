"""The harness against the real adapters (each test skips, with the reason, when its system's
adapter is unavailable): Sidekiq-style retry delays within their bounds, the polling answer on
the Resque clone, delayed jobs spread over the scheduler's phase, and `queuebench run` interrupted with Ctrl-C."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_harness_runner import TINY, leftovers, tiny

from core import registry, results
from core.errors import SystemUnavailable
from harness import runner


def system_or_skip(name: str) -> type:
    try:
        return registry.system(name)
    except SystemUnavailable as exc:
        pytest.skip(f"{name} adapter unavailable: {exc}")


def test_sidekiq_retry_delays_stay_within_the_sidekiq_bounds(tmp_path: Path, redis_url: str) -> None:
    """Retry k waits the policy delay d_k (the clone's sidekiq_retry_in hook; Sidekiq's own
    k**4 + 15 is scaled down to d) plus jitter 9 * (k + 1) * unit (unit 0 under the hook), plus
    the scheduled-set poller's granularity (random around poll_interval, at most 1.5 x)."""
    cls = system_or_skip("sidekiq_clone")
    delay = 0.3
    opts = runner.RunOptions(
        profile=TINY, scenario_decls=tiny(retries=({"n": 3, "fail_first": 2, "max_retries": 3,
                                              "delay_s": delay, "backoff": "fixed",
                                              "window_s": 20.0})),
        system_classes={"sidekiq_clone": cls}, scenarios=["retries"], configs=["default"],
        out=tmp_path, redis_url=redis_url, build_report=False)
    run, _ = runner.execute(opts)
    (cell,) = run.cells
    assert cell.status == "ok", cell.reason
    poll = float(cls.configs["default"].options.get("poll_interval", 5.0))
    for job in cell.metrics["jobs"]:
        assert job["final"] == "succeeded"
        assert [a["outcome"] for a in job["attempts"]] == ["error", "error", "ok"]
        for gap in job["delays_s"]:
            assert delay <= gap <= delay + 1.5 * poll + 0.5


def test_resque_clone_polling_answer(tmp_path: Path, redis_url: str) -> None:
    """A Resque worker polling every 0.1 s starts sparse jobs ~0.05 s late on average."""
    cls = system_or_skip("resque_clone")
    if "nofork" not in cls.configs:
        pytest.skip("the Resque clone has no 'nofork' config")
    interval = float(cls.configs["nofork"].options["interval"])
    opts = runner.RunOptions(
        profile=TINY, scenario_decls=tiny(latency=({"idle_rate": 8.0, "fractions": [], "duration_s": 4.0,
                                              "min_jobs": 30, "warmup": 2, "idle_poll_jobs": 30})),
        system_classes={"resque_clone": cls}, scenarios=["latency"], configs=["nofork"],
        out=tmp_path, redis_url=redis_url, build_report=False)
    run, _ = runner.execute(opts)
    (cell,) = run.cells
    assert cell.status == "ok", cell.reason
    assert cell.params["arrivals"] == "interval+uniform" and cell.params["poll_interval_s"] == interval
    # I/2 plus the worker's own per-job work; generous for a shared, loaded machine
    assert 0.3 * interval * 1e6 <= cell.metrics["latency_us"]["mean"] <= 0.9 * interval * 1e6


def test_scheduled_jobs_are_spread_over_the_pollers_phase(tmp_path: Path, redis_url: str) -> None:
    """Delayed jobs all due at one moment would wait for one scheduler check (one phase sample):
    their planned starts are spread over more than the longest poller interval (the Resque
    clone's 1 s scheduler here, so a 0.2 s spread_s is widened to 1.5 s), and the errors differ."""
    cls = system_or_skip("resque_clone")
    if "nofork" not in cls.configs:
        pytest.skip("the Resque clone has no 'nofork' config")
    longest = max(float(v) for k, v in cls.configs["nofork"].options.items()
                  if k.endswith("interval"))
    opts = runner.RunOptions(
        profile=TINY, scenario_decls=tiny(scheduled=({"n": 10, "delay_s": 0.3, "spread_s": 0.2,
                                                "window_s": 10.0, "warmup": 1})),
        system_classes={"resque_clone": cls}, scenarios=["scheduled"], configs=["nofork"],
        out=tmp_path, redis_url=redis_url, build_report=False)
    run, path = runner.execute(opts)
    (cell,) = run.cells
    assert cell.status == "ok", cell.reason
    assert cell.params["spread_s"] == pytest.approx(1.5 * longest)
    assert cell.params["offsets"] == "uniform" and "seed" in cell.params
    planned = sorted(r["planned"] for r in results.read_raw(path, cell.to_json())
                     if not str(r["job"]).startswith("warm-"))
    assert len(planned) == 10
    assert (planned[-1] - planned[0]) / 1e9 >= 0.5 * longest
    err = cell.metrics["error_ms"]
    assert cell.metrics["started"] == 10
    assert err["max"] - err["min"] >= 0.2 * longest * 1000  # not one shared poller check


def test_ctrl_c_on_queuebench_run_keeps_cells_and_leaves_nothing(tmp_path: Path, redis_url: str) -> None:
    system_or_skip("sidekiq_clone")
    out = tmp_path / "results"
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness.cli", "run", "--profile", "quick", "--systems",
         "sidekiq_clone", "--scenarios", "throughput,crash", "--configs", "default",
         "--redis-url", redis_url, "--out", str(out), "--no-report"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        cwd=str(Path(__file__).parent.parent))
    path = None
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            found = list(out.glob("*/results.json"))
            if found and json.loads(found[0].read_text())["cells"] and list(out.glob("*/work/crash*/logs")):
                path = found[0].parent
                break
            time.sleep(0.1)
        assert path is not None, "no cell finished"
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 130, output
    assert "partial" in output
    data = results.read(path)
    assert data["partial"] is True
    assert data["cells"] and all(c["scenario"] == "throughput" for c in data["cells"])
    assert leftovers(path) == []


@pytest.mark.parametrize("system", ["resque_clone", "sidekiq_clone"])
def test_memory_at_equal_jobs_in_flight_counts_what_each_job_holds(
        system: str, tmp_path: Path, redis_url: str) -> None:
    """The memory calibration: four jobs at once, each holding a known 40 MiB. Forked children
    (Resque: a child per job) and threads (Sidekiq) alike, the tree's peak PSS exceeds its idle
    PSS by about 40 MiB per job in flight, and each job's process reports its own memory."""
    cls = system_or_skip(system)
    hold = {"hold": {"alloc_mb": 40, "ms": 400}}
    opts = runner.RunOptions(
        profile=TINY, scenario_decls=tiny(memory={"in_flight": [4], "rounds": 2, "idle_s": 0.5,
                                                  "warmup": 1, "workload_options": hold}),
        system_classes={system: cls}, scenarios=["memory"], configs=["default"],
        workloads=["hold"], out=tmp_path, redis_url=redis_url, build_report=False)
    run, _ = runner.execute(opts)
    (cell,) = run.cells
    assert cell.status == "ok", cell.reason
    m = cell.metrics
    assert m["observed_in_flight"] == 4
    per_job = m["peak_over_idle_per_job"]["pss"] / 2**20
    assert 34 <= per_job <= 52, f"{per_job:.1f} MiB per job in flight"
    assert m["job_process"]["uss"] and m["job_process"]["pss"]  # each job's own process, at its end
    assert m["model"] == ("fork-per-job" if system == "resque_clone" else "threads")
