"""The runner end to end on real Redis and real worker processes: the harness's own calibration
queue (harness/calibration.py) stands in for a system, so these tests check the harness itself:
cells, fresh databases, results, known answers, unsupported cells, bad names, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import psutil
import pytest

from core import registry, results
from core.probe import ENV_RUN_DIR
from core.scenario import Plan, Scenario
from harness import runner
from harness.calibration import CalibrationSystem
from harness.profiles import Profile

TINY = Profile("tiny", 1)
TINY_SIZES: dict[str, dict[str, Any]] = {
    "floor": {"hop_n": 50, "hop_rate": 200.0, "drain_n": 500, "warmup": 5},
    "throughput": {"n": 50, "concurrency": [1], "warmup": 5},
    "latency": {"idle_rate": 10.0, "fractions": [0.5], "duration_s": 0.5, "min_jobs": 5,
                "max_jobs": 200, "warmup": 3},
    "memory": {"concurrency": 2, "n": 10, "idle_s": 0.3, "warmup": 2},
    "retries": {"n": 2, "fail_first": 1, "max_retries": 2, "delay_s": 0.2, "backoff": "fixed",
                "window_s": 5.0},
    "crash": {"n": 3, "ms": 300, "window_s": 1.0, "warmup": 1, "targets": ["worker", "child"]},
    "scheduled": {"n": 2, "delay_s": 0.5, "window_s": 3.0},
    "priority": {"n": 10},
    "soak": {"duration_s": 3.0, "fraction": 0.25, "warmup": 2},
}


def tiny(**sizes: dict[str, Any]) -> dict[str, Scenario]:
    """The registered scenarios with a "tiny" plan: TINY_SIZES, or the sizes given by name."""
    return {name: replace(s, profiles={"tiny": Plan(sizes.get(name, TINY_SIZES.get(name, {})))})
            for name, s in registry.scenarios().items()}


def options(tmp_path: Path, redis_url: str, sizes: dict[str, dict[str, Any]] | None = None,
            **kw: object) -> runner.RunOptions:
    return runner.RunOptions(profile=TINY, system_classes={"calibration": CalibrationSystem},
                             scenario_decls=tiny(**(sizes or {})), out=tmp_path / "results",
                             redis_url=redis_url, build_report=False, **kw)  # type: ignore[arg-type]


def leftovers(run_path: Path) -> list[int]:
    """Processes still running for this run (found by their run-directory environment)."""
    prefix = str(run_path.resolve())
    out = []
    for proc in psutil.process_iter():
        try:
            if proc.pid != os.getpid() and proc.environ().get(ENV_RUN_DIR, "").startswith(prefix):
                if proc.status() != psutil.STATUS_ZOMBIE:
                    out.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return out


def test_a_run_writes_cells_raw_records_and_a_summary(tmp_path: Path, redis_url: str) -> None:
    run, path = runner.execute(options(tmp_path, redis_url,
                                       scenarios=["floor", "throughput", "latency", "scheduled"]))
    by_scenario = {c.scenario: c for c in run.cells}
    assert {c.status for c in run.cells if c.scenario != "scheduled"} == {"ok"}
    assert not run.partial and run.finished and run.profile == "custom"
    floor = by_scenario["floor"].metrics
    assert floor["hop_latency_us"]["count"] == 50 and floor["throughput_per_s"] > 0
    tp = by_scenario["throughput"]
    assert tp.metrics["jobs"] == 50 and tp.metrics["throughput_per_s"] > 0
    assert tp.metrics["wall_s"] >= tp.metrics["drain_s"]
    assert len(results.read_raw(path, tp.to_json())) == 55  # warm-up included in a burst's raw
    latency = [c for c in run.cells if c.scenario == "latency"]
    assert [c.params["load"] for c in latency] == ["idle", "sweep"]
    # a blocking fetch has no sleep to be sparse against: plain Poisson at the idle rate
    assert latency[0].params["arrivals"] == "poisson" and latency[0].params["rate"] == 10.0
    assert "poll_interval_s" not in latency[0].params
    assert latency[0].metrics["generator_lag_us"]["p50"] is not None
    # the sweep's steps are fractions of the drain rate the throughput cell measured
    sweep = latency[1].metrics
    assert latency[1].params["throughput_source"] == "throughput scenario"
    assert sweep["drain_rate"] == pytest.approx(tp.metrics["throughput_per_s"], rel=0.01)
    (step,) = sweep["steps"]
    assert step["fraction"] == 0.5
    assert step["offered_rate"] == pytest.approx(0.5 * sweep["drain_rate"], rel=0.01)
    assert step["jobs"] == step["started"] and step["backlog"]
    assert sweep["max_sustainable_rate"] in (0.0, step["offered_rate"])
    assert (path / "raw" / f"{latency[0].id}.latency.hdr").is_file()
    rows = {(r["scenario"], r["metric"]): r for r in run.summary}
    assert rows[("throughput", "throughput_per_s")]["floor_ratio"] > 0
    if latency[0].metrics["generator_limited"]:  # a loaded machine: the producer was late
        assert ("latency", "latency_us.p50") not in rows  # so the cell is kept out of the summary
    else:
        assert rows[("latency", "latency_us.p50")]["floor_ratio"] > 0
    assert run.systems["calibration"]["configs"]["default"]["processes"] == 1
    assert leftovers(path) == []


def test_a_scenario_a_system_lacks_is_an_unsupported_cell_with_its_reason(tmp_path: Path, redis_url: str) -> None:
    run, _ = runner.execute(options(tmp_path, redis_url, scenarios=["scheduled", "priority", "crash"]))
    status = {(c.scenario, c.params.get("target")): c for c in run.cells}
    assert status[("scheduled", None)].status == "unsupported"
    assert "delayed jobs" in status[("scheduled", None)].reason
    assert status[("priority", None)].status == "unsupported"
    assert status[("crash", "child")].status == "unsupported"
    assert "forks no child" in status[("crash", "child")].reason
    worker = status[("crash", "worker")]
    assert worker.status == "ok"
    assert sum(worker.metrics["counts"].values()) == 3
    assert worker.metrics["counts"]["lost"] >= 1  # BRPOP took it; SIGKILL lost it
    assert not [r for r in run.summary if r["scenario"] in ("scheduled", "priority")]


def test_results_read_back_as_written(tmp_path: Path, redis_url: str) -> None:
    run, path = runner.execute(options(tmp_path, redis_url, scenarios=["throughput"]))
    data = results.read(path)
    assert data == json.loads(json.dumps(run.to_json(), default=str))
    # written cell by cell through an Encoder, the file is still the plain encoding of the run
    text = (path / results.RESULTS_FILE).read_text()
    assert text == json.dumps(run.to_json(), indent=1, default=str)
    for cell in run.cells:  # where each cell's time went, adding up to its duration
        assert set(cell.timings) == {"setup_s", "start_s", "warm_s", "measure_s", "stop_s",
                                     "other_s"}
        assert cell.timings["start_s"] > 0
        assert abs(sum(cell.timings.values()) - cell.duration_s) < 0.01
    assert data["schema"] == results.SCHEMA and data["run_id"] == path.name
    meta = data["metadata"]
    for key in ("host", "cpu_model", "cores", "memory_bytes", "os", "python", "packages",
                "redis_version", "redis", "argv"):
        assert meta[key], key
    assert meta["packages"]["hdrhistogram"] and meta["packages"]["redis"]
    assert meta["redis_version"][0].isdigit()


def test_the_encoder_writes_what_json_dumps_writes_as_cells_arrive(tmp_path: Path) -> None:
    run = results.Run(run_id="r", profile="quick", metadata={"a": [1, {"b": None}], "e": {}},
                      scenarios={"s": {"figures": [], "title": "é \"q\"\nline"}})
    encoder = results.Encoder()
    assert results.encode(run, encoder) == results.encode(run)
    for i in range(3):
        run.cells.append(results.Cell(id=f"c{i}", scenario="s", system="x", config="d",
                                      workload="w", params={"p": i, "path": tmp_path},
                                      metrics={"m": {"v": [i, 0.5], "e": []}, "t": "a\tb"},
                                      timings={"start_s": 0.1}))
        run.summary = [{"metric": "m", "values": list(range(i + 1))}, {"metric": "n"}]
        results.write(run, tmp_path, encoder)
        assert (tmp_path / results.RESULTS_FILE).read_text() == results.encode(run)
    run.partial, run.summary = True, []
    assert results.encode(run, encoder) == results.encode(run)


def test_polling_worker_starts_sparse_jobs_half_an_interval_late(tmp_path: Path, redis_url: str) -> None:
    """The known answer: interval I, sparse arrivals -> mean enqueue-to-start ~ I/2, p99 ~ I.
    Sparse is relative to I: the idle rate (20/s, 50 ms apart) would not be for I = 0.1 s, so
    the idle step spaces the arrivals I + U(0, I) apart instead and records that it did."""
    opts = options(tmp_path, redis_url, scenarios=["latency"], configs=["poll-0.1"], sizes={
        "latency": {"idle_rate": 20.0, "fractions": [], "duration_s": 2.0, "min_jobs": 40,
                    "warmup": 2, "idle_poll_jobs": 40, "idle_poll_span_s": 30.0}})
    run, path = runner.execute(opts)
    (cell,) = run.cells
    assert cell.params["arrivals"] == "interval+uniform" and cell.params["poll_interval_s"] == 0.1
    assert cell.params["gap_s"] == [0.1, 0.2]
    planned = sorted(r["planned"] for r in results.read_raw(path, cell.to_json())
                     if not str(r["job"]).startswith("warm-"))
    assert len(planned) == 40
    assert min(b - a for a, b in zip(planned, planned[1:], strict=False)) >= 0.1e9
    h = cell.metrics["latency_us"]
    assert h["count"] == 40
    assert h["mean"] == pytest.approx(50_000, abs=15_000)
    assert 70_000 <= h["p99"] <= 140_000


def test_the_idle_step_is_bounded_in_time_for_a_slow_poller(tmp_path: Path, redis_url: str) -> None:
    """idle_poll_span_s caps the idle jobs of a slow poller: 0.5 s interval, 2 s -> 1 + 2 jobs."""
    opts = options(tmp_path, redis_url, scenarios=["latency"], configs=["poll-0.5"], sizes={
        "latency": {"idle_rate": 20.0, "fractions": [], "min_jobs": 40, "warmup": 1,
                    "idle_poll_jobs": 40, "idle_poll_span_s": 2.0}})
    run, _ = runner.execute(opts)
    (cell,) = run.cells
    assert cell.status == "ok", cell.reason
    assert cell.params["n"] == 3 and cell.metrics["latency_us"]["count"] == 3
    assert cell.metrics["offered_rate"] <= 1 / 0.5  # gaps of at least the interval
    assert cell.metrics["latency_us"]["max"] <= 0.5e6 + 100_000


def test_unknown_names_are_rejected_before_anything_starts(tmp_path: Path, redis_url: str) -> None:
    for kw, words in [({"systems": ["nope"]}, "valid systems: calibration"),
                      ({"scenarios": ["nope"]}, "valid scenarios: floor, throughput"),
                      ({"workloads": ["nope"]}, "valid workloads:"),
                      ({"configs": ["nope"]}, "valid configs: calibration: default, poll-0.1"),
                      ({"repeats": 0}, "at least 1")]:
        with pytest.raises(runner.UsageError, match=words):
            runner.execute(options(tmp_path, redis_url, **kw))
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize(("flag", "words"), [
    ("--systems=nope", "valid systems: resque_clone, sidekiq_clone, sidekiq_ruby, rq, celery"),
    ("--scenarios=floor,nope", "valid scenarios: floor, throughput, latency"),
    ("--workload=nope", "valid workloads:"),
    ("--profile=nope", "valid profiles: quick, default, full"),
    ("--configs=nope", "unknown config 'nope'"),
])
def test_the_cli_names_the_valid_choices(flag: str, words: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from harness.cli import main

    assert main(["run", flag, "--out", str(tmp_path)]) == 2
    out = " ".join(capsys.readouterr().out.split())
    assert "error:" in out and words in out
    assert list(tmp_path.iterdir()) == []


DRIVER = """
import sys
from pathlib import Path
sys.path.insert(0, {tests!r})
from test_harness_runner import options
from harness import runner
slow = {{"latency": {{"idle_rate": 2.0, "fractions": [], "duration_s": 60.0, "min_jobs": 100,
                     "warmup": 1}}}}
opts = options(Path({out!r}), {url!r}, sizes=slow, scenarios=["throughput", "latency"])
run, path = runner.execute(opts)
print("partial" if run.partial else "complete", path, flush=True)
"""


def test_interrupt_keeps_finished_cells_marks_partial_and_leaves_no_process(tmp_path: Path, redis_url: str) -> None:
    out = tmp_path
    script = DRIVER.format(tests=str(Path(__file__).parent), out=str(out), url=redis_url)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                            cwd=str(Path(__file__).parent.parent))
    try:
        deadline = time.monotonic() + 60
        path = None
        while time.monotonic() < deadline:  # wait for the throughput cell, then the latency workers
            found = list(out.glob("results/*/results.json"))
            if found and json.loads(found[0].read_text())["cells"] and list(out.glob("results/*/work/latency*/logs")):
                path = found[0].parent
                break
            time.sleep(0.1)
        assert path is not None, "the run never finished its first cell"
        time.sleep(1.0)
        assert leftovers(path), "the latency cell should have workers running"
        proc.send_signal(signal.SIGINT)
        stdout, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert stdout.startswith("partial")
    data = results.read(path)
    assert data["partial"] is True and data["finished"]
    assert [c["scenario"] for c in data["cells"]] == ["throughput"]
    assert data["cells"][0]["status"] == "ok"
    assert leftovers(path) == []


def test_a_database_holding_foreign_keys_is_refused_and_kept(tmp_path: Path, redis_server: Any,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    import redis

    from harness.cli import main

    if redis_server is None:
        pytest.skip("REDIS_URL is set: this test writes a foreign key only into the private server")
    url = redis_server.url_for(7)
    client = redis.Redis.from_url(url)
    client.set("someone:else", "precious")
    try:
        assert main(["run", "--profile", "quick", "--systems", "rq", "--scenarios", "floor",
                     "--redis-url", url, "--out", str(tmp_path), "--no-report"]) == 2
        out = " ".join(capsys.readouterr().out.split())
        assert "holds keys queuebench did not write" in out
        assert client.get("someone:else") == b"precious"
        assert list(tmp_path.iterdir()) == []
    finally:
        client.flushdb()
        client.close()


def test_an_unreachable_redis_is_a_clear_error(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    from core.redis_server import free_port
    from harness.cli import main

    url = f"redis://127.0.0.1:{free_port()}/0"
    assert main(["run", "--scenarios", "floor", "--redis-url", url, "--out", str(tmp_path)]) == 2
    out = " ".join(capsys.readouterr().out.split())
    assert "cannot use Redis at" in out and "error:" in out


def test_a_throughput_budget_bounds_a_slow_drain(tmp_path: Path, redis_url: str) -> None:
    """sleep jobs (50 ms) drain at ~20/s: after the 1 s budget the cell counts what finished."""
    opts = options(tmp_path, redis_url, scenarios=["throughput"], workloads=["sleep"], sizes={
        "throughput": {"n": 200, "concurrency": [1], "warmup": 2, "budget_s": 1.0}})
    run, _ = runner.execute(opts)
    (cell,) = run.cells
    assert cell.status == "ok" and cell.metrics["complete"] is False
    assert 10 <= cell.metrics["jobs"] < 100
    assert 5 < cell.metrics["throughput_per_s"] <= 21  # one worker, 50 ms a job


def test_the_sweep_finds_the_maximum_sustainable_rate_of_a_known_service_rate(
        tmp_path: Path, redis_url: str) -> None:
    """The known answer for saturation: one calibration worker running 5 ms jobs serves at most
    200 jobs/s. Offered 50 % and 80 % of that it keeps up; offered 130 % its backlog grows; the
    maximum sustainable rate lands below the service rate, at the last step that kept up."""
    opts = options(tmp_path, redis_url, scenarios=["throughput", "latency"], workloads=["sleep"],
                   sizes={"throughput": {"n": 150, "concurrency": [1], "warmup": 5,
                                         "workload_options": {"sleep": {"ms": 5}}},
                          "latency": {"idle_rate": 10.0, "fractions": [0.5, 0.8, 1.3],
                                      "workload_options": {"sleep": {"ms": 5}},
                                      "step_s": 2.0, "min_jobs": 20, "warmup": 5,
                                      "p99_bound_ms": 200.0, "sweep_configs": ["default"]}})
    run, _ = runner.execute(opts)
    tp = next(c for c in run.cells if c.scenario == "throughput")
    # 5 ms a job bounds the drain from above; below, a loaded machine adds overhead per job
    # (86 jobs/s seen at load 5 on 2 cores), and the sweep's fractions follow the measured drain
    assert 40 <= tp.metrics["throughput_per_s"] <= 205
    sweep = next(c for c in run.cells if c.params.get("load") == "sweep").metrics
    by_fraction = {s["fraction"]: s for s in sweep["steps"]}
    assert by_fraction[0.5]["sustainable"] and by_fraction[0.8]["sustainable"]
    assert not by_fraction[1.3]["sustainable"]
    assert by_fraction[1.3]["backlog_growth_per_s"] > 0.05 * by_fraction[1.3]["offered_rate"]
    assert sweep["max_sustainable_rate"] == by_fraction[0.8]["offered_rate"]
    assert sweep["max_sustainable_rate"] < 200


def test_the_crash_oracle_finds_a_planted_loss_and_a_planted_duplicate(
        tmp_path: Path, redis_url: str) -> None:
    """Every job id is accounted for: one job taken out of its queue (lost), one run twice
    (duplicate), the rest completed once."""
    import redis as redis_py

    from core.contract import JobSpec
    from core.errors import CellTimeout
    from harness.calibration import queue_key
    from harness.scenarios import crash
    from harness.scenarios.common import CellContext, CellSpec, wait_until
    from workloads import registry as workloads

    workloads.prepare("noop", tmp_path)
    system = CalibrationSystem(redis_url, tmp_path)
    jobs = [JobSpec(f"job-{i}", "noop") for i in range(6)]
    system.enqueue_many(jobs)
    client = redis_py.Redis.from_url(redis_url)
    client.rpop(queue_key("default"))  # the oldest job leaves Redis and goes nowhere: lost
    system.enqueue(jobs[3])  # job-3 enqueued a second time: it will run twice
    spec = CellSpec("crash", "calibration", "default", system.config, "noop",
                    system_cls=CalibrationSystem)
    ctx = CellContext(spec, redis_url, tmp_path, 0)
    try:
        ctx.start(system)
        try:
            wait_until(lambda: len(ctx.tail.measured()) >= 6, 10, "six runs")
        except CellTimeout:
            pass
        counts, states = crash.account([j.job_id for j in jobs], ctx.tail.measured(),
                                       system.registries(), crash.queued_now(system))
    finally:
        ctx.close()
        client.close()
    assert counts == {"completed": 4, "duplicate": 1, "failed": 0, "pending": 0, "lost": 1}
    assert states["job-0"] == "lost" and states["job-3"] == "duplicate"


def test_a_soak_turns_a_leak_into_a_slope(tmp_path: Path, redis_url: str) -> None:
    """The soak's known answer: jobs that each keep 0.2 MiB for good, 50 a second, grow the
    worker by ~10 MiB a second (36 GiB an hour); the same jobs without the leak stay flat."""
    def soak(leak: bool) -> dict[str, Any]:
        hold = {"hold": {"alloc_mb": 0.2, "ms": 0, "leak": leak}}
        opts = options(tmp_path / str(leak), redis_url, scenarios=["soak"], sizes={
            "soak": {"duration_s": 6.0, "fraction": 0.25, "warmup": 2, "workload_options": hold}})
        assert opts.scenario_decls is not None
        opts.scenario_decls["soak"] = replace(opts.scenario_decls["soak"], workload="hold")
        run, _ = runner.execute(opts)
        (cell,) = run.cells
        assert cell.status == "ok", cell.reason
        return cell.metrics

    from harness.scenarios import soak as soak_scenario

    assert soak_scenario.slope_per_hour([(0.0, 1.0), (1.0, 2.0), (2.0, 3.0)]) == 3600.0
    # the calibration worker serves ~200 jobs/s of 0 ms jobs; a quarter: ~50 jobs/s
    leaking = soak(True)
    assert leaking["slope_mib_per_h"]["pss"] > 5_000  # MiB/h: a leak is a number
    flat = soak(False)
    # USS: the worker's own pages (its PSS also moves when other processes on the machine
    # start or stop sharing its libraries' pages)
    assert abs(flat["slope_mib_per_h"]["uss"]) < 200


def test_a_run_writes_only_where_it_is_told(tmp_path: Path, redis_url: str,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    """--out puts the results and, beside them, the report; the current directory's
    reports/out/ (and its latest/) is left alone, and the run says where it wrote."""
    from harness.cli import main

    cwd = tmp_path / "checkout"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    out = tmp_path / "scratch"
    assert main(["run", "--profile", "quick", "--systems", "rq", "--scenarios", "priority",
                 "--redis-url", redis_url, "--out", str(out)]) == 0
    printed = " ".join(capsys.readouterr().out.split())
    assert not (cwd / "reports").exists()
    (page,) = (out / "reports").glob("2*/index.html")
    assert (out / "reports" / "latest" / "index.html").is_file()
    assert str(page) in printed.replace(" ", "") or page.name in printed
    other = tmp_path / "elsewhere"
    assert main(["run", "--profile", "quick", "--systems", "rq", "--scenarios", "priority",
                 "--redis-url", redis_url, "--out", str(out), "--report-dir", str(other)]) == 0
    assert list(other.glob("2*/index.html")) and not (cwd / "reports").exists()


def test_the_plan_records_the_original_each_system_clones(tmp_path: Path) -> None:
    plan = runner.plan(runner.RunOptions(
        profile=TINY, system_classes={"sidekiq_clone": registry.system("sidekiq_clone"),
                                      "calibration": CalibrationSystem},
        scenario_decls=tiny(), scenarios=["throughput"], out=tmp_path, build_report=False))
    assert plan.systems["sidekiq_clone"]["original"] == "sidekiq_ruby"
    assert plan.systems["calibration"]["original"] is None


def test_a_profile_runs_other_configs_fewer_times_than_the_main_one(tmp_path: Path,
                                                                    redis_url: str) -> None:
    """The default profile's rule: the main config ("default") every repeat, a variant at most
    variant_repeats times, recorded in the run's metadata; --repeat runs every config alike."""
    sizes = {"throughput": {"n": 20, "concurrency": [1], "warmup": 2}}
    opts = options(tmp_path, redis_url, sizes, scenarios=["throughput"],
                   configs=["default", "poll-0.1"])
    opts.profile = Profile("tiny", 2, variant_repeats=1)
    _, run_path = runner.execute(opts)
    data = json.loads((run_path / "results.json").read_text())
    ran = [(c["config"], c["repeat"]) for c in data["cells"] if c["status"] == "ok"]
    assert sorted(ran) == [("default", 0), ("default", 1), ("poll-0.1", 0)]
    assert data["metadata"]["variant_repeats"] == 1
    forced = runner.plan(replace(opts, repeats=2))
    assert forced.repeats_of("throughput", "poll-0.1") == 2


def test_a_smoke_profile_runs_cells_of_one_scenario_at_once_each_on_its_own_database(
        tmp_path: Path, redis_url: str) -> None:
    """parallel=2: the two configs' cells of a scenario are started together, each on a
    database of its own, and both measure; a scenario that reads server-wide counters (the
    floor, rtt) runs alone."""
    sizes = {"throughput": {"n": 200, "concurrency": [1], "warmup": 2}}
    opts = options(tmp_path, redis_url, sizes, scenarios=["throughput"],
                   configs=["poll-0.1", "poll-0.5"])
    opts.profile = Profile("tiny", 1, parallel=2, smoke=True)
    said: list[str] = []
    _, run_path = runner.execute(opts, progress=lambda label, *_: said.append(label))
    data = json.loads((run_path / "results.json").read_text())
    cells = [c for c in data["cells"] if c["scenario"] == "throughput"]
    assert [c["status"] for c in cells] == ["ok", "ok"], [c.get("reason") for c in cells]
    assert "throughput: 2 cells, 2 at once r0" in said
    assert data["metadata"]["parallel"] == 2
    assert registry.scenario("floor").alone and registry.scenario("rtt").alone
    assert data["metadata"]["side_by_side"] == ["throughput"]


def test_a_measuring_profile_runs_side_by_side_only_what_shares_the_machine(tmp_path: Path) -> None:
    """Outside a smoke test, only a scenario whose figures are counts or waits of seconds
    (Scenario.shares: crash, retries, the lessons) runs its cells at once."""
    opts = runner.RunOptions(profile=Profile("tiny", 3, parallel=3),
                             system_classes={"calibration": CalibrationSystem},
                             scenario_decls=tiny(), out=tmp_path, build_report=False)
    the_plan = runner.plan(opts)
    shared = sorted(name for name in the_plan.scenarios if the_plan.side_by_side(name))
    assert {"crash", "retries", "priority", "visibility_timeout", "prefetch"} <= set(shared)
    for alone in ("throughput", "latency", "memory", "floor", "rtt", "scheduled"):
        assert alone not in shared


def test_a_parallel_slot_is_the_urls_own_database_moved_up() -> None:
    assert runner.with_db("redis://127.0.0.1:7000", 2) == "redis://127.0.0.1:7000/2"
    assert runner.with_db("redis://127.0.0.1:7000/3", 1) == "redis://127.0.0.1:7000/4"
    assert runner.with_db("redis://127.0.0.1:7000/3", 0) == "redis://127.0.0.1:7000/3"
    with pytest.raises(runner.UsageError, match="databases 14-16"):
        runner.with_db("redis://127.0.0.1:7000/14", 2)
