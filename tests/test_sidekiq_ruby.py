"""Real Sidekiq 6.4.1 as a measured system (comparisons/sidekiq_ruby) beyond the shared contract:
the probe record its Ruby job writes, attempt numbers across Sidekiq's retries, the RetryPolicy
as sidekiq_retry_in's whole seconds, what SIGKILL loses with basic fetch, weighted and strict
queues, the scheduled poller's interval, the stock and quiet job logs, the Ruby workloads'
parity with the Python ones, refusals that lose nothing, and the system reported unavailable
where Ruby is missing. Without Ruby or the gems these tests skip and say why; with CI=true a
missing one fails the run.
"""

from __future__ import annotations

import json
import math
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from system_helpers import Driven, needs, ok_jobs, records, wait_for

from comparisons.sidekiq_clone import api
from comparisons.sidekiq_clone.client import Client
from comparisons.sidekiq_ruby.adapter import JOBS_RB, SidekiqRuby, unavailable_reason
from core.contract import JobSpec, RetryPolicy
from core.errors import NotSupported, UnknownName, WorkloadError
from core.probe import ENV_RUN_DIR

ROOT = Path(__file__).resolve().parent.parent
NAME = "sidekiq_ruby"
PROBE_FIELDS = {"system", "job", "attempt", "planned", "start", "end", "outcome", "error", "pid"}
MAX_POLL_GAP_S = 1.5  # poll_interval_average 1 s: Sidekiq sleeps 0.5-1.5 s between polls
INITIAL_WAIT_S = 5.0  # with the average set, Sidekiq 6.4.1 first polls 0-5 s after boot
SLACK_S = 0.35  # from the poller's push to a processor thread's start stamp, on a loaded machine


@pytest.fixture(scope="module")
def ruby() -> None:
    needs(unavailable_reason(), "the sidekiq_ruby tests need real Sidekiq 6.4.1")


@pytest.fixture
def sidekiq(ruby: None, drive: Callable[..., Driven]) -> Callable[..., Driven]:
    """sidekiq(config="default") -> the real-Sidekiq system on the test's Redis and run
    directory (through the registry, as the harness gets it); workers stopped afterwards."""
    return lambda config="default": drive(NAME, config)


def job(workload: str, args: list[Any] | None = None, **kw: Any) -> JobSpec:
    return JobSpec(JobSpec.new_id(), workload, list(args or []), **kw)


def raw_lines(run_dir: Path) -> list[str]:
    return [line for path in sorted((run_dir / "records").glob("*.jsonl"))
            for line in path.read_text().splitlines() if line]


def log_text(run_dir: Path, index: int = 0) -> str:
    return (run_dir / "logs" / f"{NAME}-{index}.log").read_text(errors="replace")


# -- the probe record and attempts -------------------------------------------------------------


@pytest.mark.slow
def test_a_job_retried_twice_leaves_three_full_records_numbered_1_2_3(
        sidekiq: Any, workload_factory: Any, run_dir: Path) -> None:
    flaky = workload_factory("flaky", fail_first=2)
    d = sidekiq("c1")
    j = job("flaky", ["k"], retry=RetryPolicy(max_retries=3, delay_s=1.0, backoff="fixed"))
    d.system.enqueue(j)
    group = d.start("flaky")
    wait_for(lambda: j.job_id in ok_jobs(run_dir), 60, "the third attempt to succeed")
    got = records(run_dir, j.job_id)
    for rec in got:
        assert set(rec) == PROBE_FIELDS
        assert rec["system"] == NAME and rec["job"] == j.job_id and rec["planned"] == j.planned_ns
        assert rec["pid"] == group.pids[0]
        assert all(type(rec[k]) is int for k in ("planned", "start", "end", "pid", "attempt"))
        assert rec["planned"] <= rec["start"] <= rec["end"]
    assert [r["attempt"] for r in got] == [1, 2, 3]
    assert [r["outcome"] for r in got] == ["error", "error", "ok"]
    assert [r["error"] for r in got] == [
        "FlakyFailure: flaky job k failed on purpose (attempt 1)",
        "FlakyFailure: flaky job k failed on purpose (attempt 2)", None]
    flaky.verify([["k"]])  # the Ruby job counted in the workload's own SQLite file
    assert flaky.attempts("k") == 3
    # retry k waits ceil(1.0) s plus Sidekiq's jitter rand(10) * (k + 1) s, plus the poller
    gaps = [(b["start"] - a["end"]) / 1e9 for a, b in zip(got, got[1:], strict=False)]
    assert all(1.0 <= g <= 1.0 + 9 * (k + 1) + MAX_POLL_GAP_S + SLACK_S
               for k, g in enumerate(gaps)), gaps


def test_each_record_is_one_compact_json_line_as_the_python_probe_writes_it(
        sidekiq: Any, workload_factory: Any, run_dir: Path) -> None:
    workload_factory("noop")
    d = sidekiq()
    jobs = [job("noop") for _ in range(20)]
    d.system.enqueue_many(jobs)
    d.start("noop")
    wait_for(lambda: len(raw_lines(run_dir)) == 20, 30, "twenty records")
    for line in raw_lines(run_dir):
        rec = json.loads(line)
        assert list(rec) == ["system", "job", "attempt", "planned", "start", "end", "outcome",
                             "error", "pid"]
        assert json.dumps(rec, separators=(",", ":")) == line  # core.probe's bytes, key order
    assert [p.name for p in (run_dir / "records").iterdir()] == [f"{d.groups[0].pids[0]}.jsonl"]


def test_a_burst_of_noop_jobs_runs_once_each_in_the_ruby_worker(
        sidekiq: Any, workload_factory: Any, run_dir: Path) -> None:
    workload_factory("noop")
    d = sidekiq()
    jobs = [job("noop") for _ in range(100)]
    d.system.enqueue_many(jobs)
    assert d.system.pending() == 100
    group = d.start("noop")
    wanted = {j.job_id for j in jobs}
    wait_for(lambda: wanted <= ok_jobs(run_dir), 60, "100 noop jobs")
    got = records(run_dir)
    assert sorted(r["job"] for r in got) == sorted(wanted)
    assert {r["attempt"] for r in got} == {1} and {r["pid"] for r in got} == set(group.pids)
    assert d.system.pending() == 0


def test_the_worker_pid_the_harness_holds_is_the_ruby_process_itself(sidekiq: Any,
                                                                     workload_factory: Any) -> None:
    workload_factory("noop")
    group = sidekiq().start("noop")
    (pid,) = group.pids
    proc = psutil.Process(pid)
    assert Path(proc.exe()).name.startswith("ruby")
    assert "sidekiq" in " ".join(proc.cmdline()), proc.cmdline()  # its procline, or its argv
    assert proc.children(recursive=True) == []  # threads, no forked child and no shell above


# -- retries -----------------------------------------------------------------------------------


def retry_delay(redis_client: redis.Redis, job_id: str) -> tuple[float, dict[str, Any]]:
    """Seconds from a job's failure to its retry, as Sidekiq scheduled it, and its payload."""
    for entry in api.RetrySet(redis_client).entries():
        item = entry.item or {}
        if item.get("args", [None])[0] == job_id:
            return entry.score - float(item["failed_at"]), item
    raise AssertionError(f"job {job_id} is not in the retry set")


def test_a_retry_policy_becomes_whole_seconds_plus_sidekiqs_own_jitter(
        sidekiq: Any, workload_factory: Any, redis_client: redis.Redis, run_dir: Path) -> None:
    workload_factory("flaky", fail_first=5)
    d = sidekiq()
    fixed = job("flaky", ["a"], retry=RetryPolicy(3, 2.5, "fixed"))  # ceil: 3 s
    exponential = job("flaky", ["b"], retry=RetryPolicy(3, 0.3, "exponential"))  # 0.3 -> 1 s
    native = job("flaky", ["c"], retry=RetryPolicy(3, 99.0, "native"))  # 0**4 + 15 s
    d.system.enqueue_many([fixed, exponential, native])
    d.start("flaky")
    wait_for(lambda: redis_client.zcard("retry") == 3, 20, "three first failures")
    for spec, low in ((fixed, 3), (exponential, 1), (native, 15)):
        delay, item = retry_delay(redis_client, spec.job_id)
        assert low <= delay <= low + 9 + 0.1, (spec.retry, delay)  # rand(10) * (0 + 1) s
        assert item["retry_count"] == 0 and item["retry"] == 3
        assert item["qb_retry"] == {"backoff": spec.retry.backoff, "delay_s": spec.retry.delay_s}
    assert sorted(d.system.registries().retry) == sorted(
        [fixed.job_id, exponential.job_id, native.job_id])


def test_a_job_without_a_policy_goes_to_the_dead_set_after_one_attempt(
        sidekiq: Any, workload_factory: Any, run_dir: Path) -> None:
    workload_factory("flaky", fail_first=5)
    d = sidekiq()
    j = job("flaky", ["z"])
    d.system.enqueue(j)
    d.start("flaky")
    regs = wait_for(lambda: (r := d.system.registries()).dead and r, 20, "the dead set")
    assert regs.dead == [j.job_id] and regs.retry == [] and regs.unsupported == ["failed"]
    assert [r["attempt"] for r in records(run_dir, j.job_id)] == [1]


# -- crash, stop -------------------------------------------------------------------------------


def test_sigkill_loses_the_job_in_flight_and_keeps_the_queued_one(
        sidekiq: Any, workload_factory: Any, run_dir: Path) -> None:
    """Basic fetch: BRPOP takes the job off the queue, so the job a killed worker was running
    exists nowhere any more; a job still queued runs on the next worker."""
    workload_factory("sleep", ms=1500)
    d = sidekiq("c1")
    in_flight, queued = job("sleep", [1500]), job("sleep", [1500])
    d.system.enqueue_many([in_flight, queued])
    group = d.start("sleep")
    wait_for(lambda: d.system.pending() == 1, 10, "the worker to take the first job")
    time.sleep(0.3)
    os.kill(group.pids[0], signal.SIGKILL)
    group.processes[0].wait(timeout=10)
    assert records(run_dir) == []  # killed mid-job: no attempt finished
    d.start("sleep")
    wait_for(lambda: queued.job_id in ok_jobs(run_dir), 20, "the queued job on the new worker")
    time.sleep(1.0)
    assert in_flight.job_id not in ok_jobs(run_dir)
    regs = d.system.registries()
    assert in_flight.job_id not in regs.retry + regs.dead + regs.scheduled
    assert d.system.pending() == 0  # lost: in no queue, no set, never completed


@pytest.mark.slow
def test_the_crash_scenario_counts_the_in_flight_jobs_lost_and_has_no_child_to_kill(
        ruby: None, tmp_path: Path, redis_url: str) -> None:
    from test_harness_runner import TINY, tiny

    from core import registry
    from harness import runner

    opts = runner.RunOptions(
        profile=TINY, scenario_decls=tiny(crash={"n": 3, "ms": 1000, "window_s": 4.0,
                                                 "warmup": 1, "targets": ["worker", "child"]}),
        system_classes={NAME: registry.system(NAME)}, scenarios=["crash"], configs=["default"],
        out=tmp_path, redis_url=redis_url, build_report=False)
    run, _ = runner.execute(opts)
    cells = {c.params["target"]: c for c in run.cells}
    worker, child = cells["worker"], cells["child"]
    assert worker.status == "ok", worker.reason
    assert worker.metrics["counts"]["lost"] == 3 and worker.metrics["restarted"]
    assert {a["final"] for a in worker.metrics["at_risk"]} == {"lost"}
    assert child.status == "unsupported" and "forks no child" in child.reason


def test_graceful_stop_lets_the_running_job_finish(sidekiq: Any, workload_factory: Any,
                                                  run_dir: Path) -> None:
    workload_factory("sleep", ms=800)
    d = sidekiq()
    j = job("sleep", [800])
    d.system.enqueue(j)
    group = d.start("sleep")
    wait_for(lambda: d.system.pending() == 0, 10, "the worker to take the job")
    d.system.stop(group, graceful=True)
    assert group.processes[0].returncode == 0
    assert [r["outcome"] for r in records(run_dir, j.job_id)] == ["ok"]


def test_two_processes_each_heartbeat_and_share_the_jobs(sidekiq: Any, workload_factory: Any,
                                                        run_dir: Path,
                                                        redis_client: redis.Redis) -> None:
    workload_factory("sleep", ms=200)
    d = sidekiq("p2")
    jobs = [job("sleep", [200]) for _ in range(40)]
    d.system.enqueue_many(jobs)
    group = d.start("sleep")
    assert len(set(group.pids)) == 2
    assert set(group.pids) <= {int(p["pid"]) for p in api.processes(redis_client)}
    wait_for(lambda: len(ok_jobs(run_dir)) == 40, 30, "forty jobs")
    assert {r["pid"] for r in records(run_dir)} == set(group.pids)


def test_the_concurrency_sweep_runs_that_many_jobs_at_once(sidekiq: Any, workload_factory: Any,
                                                          run_dir: Path) -> None:
    from harness.scenarios.common import scaled

    workload_factory("sleep", ms=400)
    config = scaled(SidekiqRuby.configs["default"], 3)
    assert config.concurrency == 3 and config.processes == 1
    d = sidekiq()
    d.system.config = config  # as the harness builds a cell's system with the scaled config
    d.system.enqueue_many([job("sleep", [400]) for _ in range(9)])
    d.start("sleep")
    wait_for(lambda: len(ok_jobs(run_dir)) == 9, 30, "nine jobs")
    spans = [(r["start"], r["end"]) for r in records(run_dir)]
    most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert most == 3


# -- queues ------------------------------------------------------------------------------------


def first_starts(sidekiq: Any, config: str, run_dir: Path, n: int) -> dict[str, int]:
    """Saturate high and default with n jobs each, start `config`, count the queues of the
    first n jobs to start (the priority scenario's measure)."""
    d = sidekiq(config)
    high = [job("noop", queue="high") for _ in range(n)]
    default = [job("noop", queue="default") for _ in range(n)]
    d.system.enqueue_many([j for pair in zip(default, high, strict=True) for j in pair])
    d.start("noop")
    wait_for(lambda: len(records(run_dir)) >= n, 30, f"{n} jobs to start")
    first = {r["job"] for r in records(run_dir)[:n]}
    return {"high": len(first & {j.job_id for j in high}),
            "default": len(first & {j.job_id for j in default})}


def test_the_weighted_config_serves_high_about_five_times_in_six(
        sidekiq: Any, workload_factory: Any, run_dir: Path) -> None:
    workload_factory("noop")
    share = first_starts(sidekiq, "weighted", run_dir, 120)["high"] / 120
    assert 0.70 <= share <= 0.95, share  # 5/6 = 0.83; binomial sd about 0.035


def test_the_default_config_serves_high_strictly_first(sidekiq: Any, workload_factory: Any,
                                                       run_dir: Path) -> None:
    workload_factory("noop")
    counts = first_starts(sidekiq, "default", run_dir, 120)
    # Ten threads: the last high pop is the 120th, and the nine other threads may pop (and
    # stamp) a default job before a high job popped earlier stamps its start. So at most nine
    # default jobs among the first 120 starts; weighted fetching puts about twenty there.
    assert counts["high"] >= 111, counts


def test_a_job_for_a_queue_the_config_does_not_work_is_refused_and_nothing_is_pushed(
        sidekiq: Any, workload_factory: Any) -> None:
    workload_factory("noop")
    d = sidekiq("weighted")  # -q high,5 -q default: no "low"
    with pytest.raises(NotSupported) as err:
        d.system.enqueue_many([job("noop", queue="high"), job("noop", queue="low")])
    assert "'low'" in str(err.value) and "high, default" in str(err.value)
    assert d.system.pending() == 0


# -- scheduled jobs ----------------------------------------------------------------------------


@pytest.mark.slow
def test_scheduled_jobs_start_within_the_pollers_interval_of_their_time(
        sidekiq: Any, workload_factory: Any, run_dir: Path) -> None:
    workload_factory("noop")
    d = sidekiq()
    d.start("noop")
    jobs = []
    for i in range(6):  # due after the poller's first check, at every phase of its interval
        jobs.append(j := job("noop", delay_s=INITIAL_WAIT_S + 1 + 0.4 * i))
        d.system.enqueue(j)
    assert len(d.system.registries().scheduled) == 6
    wait_for(lambda: len(records(run_dir)) == 6, 30, "six scheduled jobs")
    late = [(r["start"] - r["planned"]) / 1e9 for r in records(run_dir)]
    assert all(0 <= s <= MAX_POLL_GAP_S + SLACK_S for s in late), late


# -- logs --------------------------------------------------------------------------------------


def run_noops_and_stop(sidekiq: Any, config: str, run_dir: Path, n: int) -> str:
    d = sidekiq(config)
    d.system.enqueue_many([job("noop") for _ in range(n)])
    group = d.start("noop")
    wait_for(lambda: len(ok_jobs(run_dir)) == n, 30, f"{n} jobs")
    d.system.stop(group, graceful=True)  # Sidekiq says goodbye: the log is complete
    return log_text(run_dir)


def test_the_default_config_logs_a_start_and_a_done_line_per_job(
        sidekiq: Any, workload_factory: Any, run_dir: Path) -> None:
    workload_factory("noop")
    log = run_noops_and_stop(sidekiq, "default", run_dir, 5)
    per_job = [line for line in log.splitlines() if "class=QueuebenchWorker" in line]
    assert sum(line.endswith("INFO: start") for line in per_job) == 5
    assert sum(line.endswith("INFO: done") for line in per_job) == 5


def test_the_quiet_config_logs_no_line_per_job(sidekiq: Any, workload_factory: Any,
                                               run_dir: Path) -> None:
    workload_factory("noop")
    log = run_noops_and_stop(sidekiq, "quiet", run_dir, 5)
    assert "Running in ruby" in log and "Bye!" in log  # the stock logger is still there
    assert "QueuebenchWorker" not in log and "jid=" not in log


# -- the Ruby workloads against the Python ones ------------------------------------------------


def test_seeded_flaky_fails_the_same_attempts_in_ruby_as_in_python(
        sidekiq: Any, workload_factory: Any, run_dir: Path) -> None:
    workload_factory("flaky", p=0.5, seed=7)
    d = sidekiq()
    jobs = [job("flaky", [f"key-{i}"]) for i in range(24)]
    d.system.enqueue_many(jobs)
    d.start("flaky")
    wait_for(lambda: len(records(run_dir)) == 24, 30, "24 first attempts")
    for rec, spec in zip(sorted(records(run_dir), key=lambda r: r["job"]),
                         sorted(jobs, key=lambda j: j.job_id), strict=True):
        fails = random.Random(f"7:{spec.args[0]}:1").random() < 0.5  # workloads/flaky.py
        assert rec["outcome"] == ("error" if fails else "ok"), spec.args


@settings(max_examples=4, deadline=None)
@given(texts=st.lists(st.text(), min_size=1, max_size=30))
@example(texts=["\x01\x800\x80\u0800", "\x01" + "x" * 8])  # seed's top 32-bit word is 1
def test_rubys_python_random_draws_what_python_draws(ruby: None, texts: list[str]) -> None:
    script = (f"require {str(JOBS_RB)!r}; JSON.parse($stdin.read).each "
              "{ |t| puts Queuebench::Workloads::Flaky.python_random(t) }")
    out = subprocess.run(["ruby", "-e", script], input=json.dumps(texts), capture_output=True,
                         text=True, timeout=60, check=True).stdout.split()
    assert [float(r) for r in out] == [random.Random(t).random() for t in texts]


def test_an_unknown_workload_option_fails_the_job_with_pythons_message(
        sidekiq: Any, workload_factory: Any, run_dir: Path) -> None:
    workload_factory("flaky")
    (run_dir / "workloads" / "flaky.json").write_text(json.dumps({"fail_first": 1, "retries": 2}))
    with pytest.raises(WorkloadError) as python:
        from workloads import registry

        registry.create("flaky", run_dir, {"fail_first": 1, "retries": 2})
    d = sidekiq()
    j = job("flaky", ["k"])
    d.system.enqueue(j)
    d.start("flaky")
    [rec] = wait_for(lambda: records(run_dir, j.job_id), 20, "the failed attempt")
    assert rec["outcome"] == "error" and rec["error"] == f"WorkloadError: {python.value}"
    wait_for(lambda: j.job_id in d.system.registries().dead, 10, "the dead set")


BAD_MS = st.one_of(st.none(), st.text(max_size=5), st.integers(max_value=-1),
                   st.floats(max_value=-0.001, allow_nan=False, allow_infinity=False),
                   st.lists(st.integers(0, 9), max_size=2),
                   st.dictionaries(st.text(max_size=3), st.integers(0, 9), max_size=2))


@pytest.fixture
def sleeper(sidekiq: Any, workload_factory: Any) -> tuple[Driven, Any]:
    """A running sleep worker and the Python sleep workload (shared by a test's examples)."""
    workload = workload_factory("sleep")
    d = sidekiq()
    d.start("sleep")
    return d, workload


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(BAD_MS, min_size=1, max_size=12))
def test_a_sleep_job_with_a_bad_duration_fails_clearly_and_lands_in_the_dead_set(
        sleeper: tuple[Driven, Any], run_dir: Path, values: list[Any]) -> None:
    d, workload = sleeper
    jobs = [job("sleep", [v]) for v in values]
    d.system.enqueue_many(jobs)
    ids = {j.job_id for j in jobs}
    wait_for(lambda: ids <= set(d.system.registries().dead), 20, "every bad job in the dead set")
    for spec in jobs:
        [rec] = records(run_dir, spec.job_id)
        assert rec["outcome"] == "error"
        assert rec["error"].startswith(
            "WorkloadError: sleep needs a non-negative number of milliseconds, got "), rec["error"]
        with pytest.raises(WorkloadError):  # the Python workload refuses the same value
            workload.perform(*spec.args)


# -- refusals ----------------------------------------------------------------------------------


def test_a_workload_written_only_in_python_is_refused_before_anything_is_pushed(
        sidekiq: Any, workload_factory: Any, run_dir: Path) -> None:
    workload_factory("highlight", store_size=5)
    d = sidekiq()
    with pytest.raises(NotSupported) as err:
        d.system.enqueue_many([job("noop"), job("highlight", [1])])
    assert "'highlight'" in str(err.value) and "pygments" in str(err.value)
    assert d.system.pending() == 0
    with pytest.raises(NotSupported):
        d.start("highlight")
    assert d.groups == [] and not (run_dir / "logs").exists()  # no worker was started
    with pytest.raises(UnknownName):
        d.system.enqueue(job("resize"))


def test_a_python_only_job_pushed_past_the_adapter_fails_in_ruby_and_says_why(
        sidekiq: Any, workload_factory: Any, run_dir: Path, redis_client: redis.Redis) -> None:
    workload_factory("noop")
    d = sidekiq()
    d.start("noop")
    spec = job("highlight", [1])
    Client(redis_client).push({"class": "QueuebenchWorker", "args": spec.probe_args(),
                               "retry": 0})
    [rec] = wait_for(lambda: records(run_dir, spec.job_id), 20, "the refused attempt")
    assert rec["outcome"] == "error"
    assert rec["error"].startswith('NotSupported: workload "highlight" is Python only')
    wait_for(lambda: spec.job_id in d.system.registries().dead, 10, "the dead set")


# -- unavailable without Ruby ------------------------------------------------------------------

WITHOUT_RUBY = """
import json
from comparisons.sidekiq_ruby import adapter          # importing the adapter is fine
from core import registry
from core.errors import ConfigUnavailable, SystemUnavailable
out = {"reason": adapter.unavailable_reason()}
try:
    registry.system("sidekiq_ruby")
except SystemUnavailable as exc:
    out["registry"] = str(exc)
try:
    adapter.SidekiqRuby.check_config(adapter.SidekiqRuby.configs["default"])
except ConfigUnavailable as exc:
    out["check_config"] = str(exc)
out["listed"] = [r for r in registry.describe_systems() if r["name"] == "sidekiq_ruby"]
out["names"] = registry.system_names()
out["available"] = [r["name"] for r in registry.describe_systems() if r["available"]]
print(json.dumps(out))
"""


def test_without_ruby_the_system_is_unavailable_with_what_to_install(tmp_path: Path) -> None:
    path = [d for d in os.environ.get("PATH", "").split(os.pathsep)
            if d and not (Path(d) / "ruby").exists() and not (Path(d) / "sidekiq").exists()]
    env = {**os.environ, "PATH": os.pathsep.join(path) or str(tmp_path)}
    env.pop(ENV_RUN_DIR, None)
    done = subprocess.run([sys.executable, "-c", WITHOUT_RUBY], capture_output=True, text=True,
                          env=env, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    install = "apt-get install ruby-sidekiq"
    assert "ruby" in out["reason"] and install in out["reason"]
    assert out["registry"].startswith("system 'sidekiq_ruby' is unavailable") \
        and install in out["registry"] and "pip" not in out["registry"]
    assert install in out["check_config"]
    assert out["listed"] == [{"name": NAME, "title": "", "configs": [], "supports": [],
                              "available": False, "reason": out["registry"]}]
    assert out["names"].index(NAME) >= len(out["available"])  # after every available system


def test_with_ruby_the_registry_hands_over_the_class(ruby: None) -> None:
    from core import registry

    assert registry.system(NAME) is SidekiqRuby
    assert SidekiqRuby.order == 25 and "6.4.1" in SidekiqRuby.title
    assert math.isclose(SidekiqRuby.configs["default"].options["poll_interval"], 1.0)


def test_a_flaky_job_waiting_for_the_sqlite_lock_lets_the_other_threads_run(
        ruby: None, tmp_path: Path) -> None:
    # One thread holds the attempts table's write lock for 0.3 s while another job wants it.
    # Waiting in C (sqlite3-ruby 1.4's busy_timeout) would hold the GVL, so the holder could
    # never commit and every thread, Sidekiq's heartbeat included, would stop for 30 s.
    script = f"""
        require {str(JOBS_RB)!r}
        flaky = Queuebench::Workloads::Flaky
        holder = Thread.new {{ db = flaky.db; db.transaction(:exclusive); sleep 0.3; db.commit }}
        sleep 0.1
        started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
        Thread.new {{ flaky.perform({{"fail_first" => 0}}, "k") }}.join
        holder.join
        puts Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
    """
    env = {**os.environ, "QUEUEBENCH_RUN_DIR": str(tmp_path)}
    out = subprocess.run(["ruby", "-e", script], capture_output=True, text=True, env=env,
                         timeout=120, check=True).stdout
    assert float(out) < 10, out  # the lock is held 0.3 s; the stuck wait lasts the full 30 s
