"""The System contract, checked the same way against every registered system with real workers.

Each test is parametrized over every system registered in the `queuebench.systems` entry points. A system whose adapter cannot be
imported yet (SystemUnavailable) is skipped with the reason, as is a config that needs something
absent here (ConfigUnavailable). A system that cannot run a workload (real Sidekiq's Ruby job has
no pygments) refuses it whole with NotSupported: nothing pushed, no worker started. Jobs are few
and delays short, so each system's run stays quick.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
from system_helpers import Driven, ok_jobs, records, wait_for

from core import registry
from core.contract import JobSpec, RetryPolicy, WorkerGroup
from core.errors import ConfigUnavailable, NotSupported, SystemUnavailable, UnknownName

# -- helpers ------------------------------------------------------------------------------------


def live(pids: set[int]) -> set[int]:
    """The pids among `pids` still running (zombies count as gone)."""
    out = set()
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                out.add(pid)
        except psutil.NoSuchProcess:
            pass
    return out


def whole_tree(group: WorkerGroup) -> set[int]:
    """Every process of the group right now: the workers and all their descendants."""
    pids: set[int] = set()
    for pid in group.pids:
        try:
            root = psutil.Process(pid)
            pids.add(pid)
            pids.update(child.pid for child in root.children(recursive=True))
        except psutil.NoSuchProcess:
            pass
    return pids


def enqueue_where_accepted(drive: Callable[..., Driven], name: str, job: JobSpec) -> Driven:
    """Enqueue `job` under the first config of `name` that takes it (default first): a system
    may retry only in a named config (Resque's retry plugin); configs unavailable here are
    passed over."""
    cls = registry.system(name)
    refusals = []
    for config in ["default", *sorted(set(cls.configs) - {"default"})]:
        try:
            cls.check_config(cls.configs[config])
        except ConfigUnavailable:
            continue
        d = drive(name, config)
        try:
            d.system.enqueue(job)
            return d
        except NotSupported as exc:
            refusals.append(f"{config}: {exc}")
    pytest.fail(f"no config of {name} accepts the job: {'; '.join(refusals)}")


@pytest.fixture(params=list(registry.system_names()))
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# -- the contract -----------------------------------------------------------------------------


def test_a_hundred_highlight_jobs_complete_verify_and_leave_one_record_each(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path, name: str
) -> None:
    workload = workload_factory("highlight", store_size=100)
    payloads = workload.payloads(100)
    d = drive(name)
    jobs = [d.job("highlight", p) for p in payloads]
    try:
        d.system.enqueue_many(jobs)
        d.start("highlight")
    except NotSupported as exc:  # a system whose jobs cannot run pygments (real Sidekiq: Ruby)
        assert "'highlight'" in str(exc), f"the refusal must name the workload: {exc}"
        assert d.system.pending() == 0 and not records(run_dir), "a refused job was pushed or ran"
        assert not d.groups, "a worker started for a workload the system refuses"
        return
    wanted = {j.job_id for j in jobs}
    wait_for(lambda: wanted <= ok_jobs(run_dir), 120, "100 highlight jobs")
    workload.verify(payloads)
    assert d.system.pending() == 0
    # the probe: one line per attempt, here one attempt per job, written by a worker process
    got = records(run_dir)
    assert sorted(r["job"] for r in got) == sorted(wanted)
    assert {r["system"] for r in got} == {name}
    assert {r["attempt"] for r in got} <= {1, None}  # None: the system does not count attempts
    assert os.getpid() not in {r["pid"] for r in got}, "jobs must run in worker processes"


def test_a_delayed_job_starts_no_earlier_than_its_delay(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path, name: str
) -> None:
    workload_factory("noop")
    d = drive(name)
    job = d.job("noop", delay_s=1.0)
    if "delay" not in d.system.supports:
        with pytest.raises(NotSupported):
            d.system.enqueue(job)
        return
    d.start("noop")
    before = time.time_ns()
    d.system.enqueue(job)
    [rec] = wait_for(lambda: records(run_dir, job.job_id), 30, "the delayed job")
    assert rec["outcome"] == "ok"
    assert rec["start"] >= before + 1_000_000_000, "started before its delay was over"
    assert rec["planned"] >= before + 1_000_000_000, "planned time must include the delay"


def test_a_job_failing_twice_succeeds_on_its_third_attempt_where_the_system_retries(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path, name: str
) -> None:
    workload_factory("flaky", fail_first=2)
    d = drive(name)
    if "retries" not in d.system.supports:
        pytest.skip(f"{name} has no automatic retries (the next test covers it)")
    job = d.job("flaky", ["k"], retry=RetryPolicy(max_retries=3, delay_s=0.2, backoff="fixed"))
    d = enqueue_where_accepted(drive, name, job)
    d.start("flaky")
    wait_for(lambda: job.job_id in ok_jobs(run_dir), 60, "the third attempt to succeed")
    attempts = records(run_dir, job.job_id)  # the probe: one line per attempt
    assert [r["outcome"] for r in attempts] == ["error", "error", "ok"]
    assert [r["attempt"] for r in attempts] == [1, 2, 3]
    assert job.job_id not in d.system.registries().failed


def test_a_failing_job_without_a_retry_policy_runs_once_and_is_recorded_as_failed(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path, name: str
) -> None:
    workload_factory("flaky", fail_first=5)
    d = drive(name)
    job = d.job("flaky", ["k"])
    d.system.enqueue(job)
    d.start("flaky")
    [rec] = wait_for(lambda: records(run_dir, job.job_id), 30, "the failing attempt")
    assert rec["outcome"] == "error" and "failed on purpose" in rec["error"]
    if "failed" in d.system.registries().unsupported:
        time.sleep(1.0)  # nothing to wait for in the system; give a wrong retry time to show
    else:
        wait_for(lambda: job.job_id in d.system.registries().failed, 10, "the failed registry")
    assert len(records(run_dir, job.job_id)) == 1, "a job without a retry policy ran again"


@pytest.mark.parametrize("graceful", [True, False], ids=["graceful", "hard"])
def test_stop_leaves_no_process_behind(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], name: str, graceful: bool
) -> None:
    workload_factory("sleep", ms=20_000)
    d = drive(name)
    group = d.start("sleep")
    if not graceful:  # a busy worker: whatever it forked for the job must go too
        d.system.enqueue(d.job("sleep", [20_000]))
        wait_for(lambda: d.system.pending() == 0, 15, "a worker to take the job")
        time.sleep(0.5)
    tree = whole_tree(group)
    assert tree >= set(group.pids)
    d.system.stop(group, graceful=graceful)
    assert live(tree) == set(), f"left running after stop: {sorted(live(tree))}"


def test_an_unknown_system_name_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownName) as err:
        registry.system("beanstalkd")
    for valid in registry.system_names():
        assert valid in str(err.value)


def test_an_unknown_config_name_lists_the_valid_ones(
    redis_url: str, run_dir: Path, name: str
) -> None:
    try:
        cls = registry.system(name)
    except SystemUnavailable as exc:
        pytest.skip(str(exc))
    with pytest.raises(UnknownName) as err:
        cls.config_named("turbo")
    assert "turbo" in str(err.value)
    for valid in cls.configs:
        assert valid in str(err.value)
    with pytest.raises(UnknownName):
        cls(redis_url, run_dir, "turbo")


def test_an_unknown_workload_is_refused_before_any_worker_starts(
    drive: Callable[..., Driven], name: str
) -> None:
    d = drive(name)
    with pytest.raises(UnknownName) as err:
        d.start("resize")
    assert "highlight" in str(err.value)


@pytest.mark.parametrize("fixed", ["celery", "dramatiq", "rq"])
def test_a_job_for_a_queue_no_worker_consumes_is_refused_and_nothing_is_queued(
    drive: Callable[..., Driven], fixed: str
) -> None:
    """Systems whose workers consume a fixed set of queues refuse a job for another one, naming
    the queues they do consume, instead of queueing a job that would never run."""
    d = drive(fixed)
    with pytest.raises(ValueError) as err:
        d.system.enqueue(d.job("noop", queue="nowhere"))
    assert "'nowhere' would never run" in str(err.value) and "default" in str(err.value)
    assert d.system.pending() == 0


def test_queuebench_list_shows_every_system_and_its_configs() -> None:
    env = {**os.environ, "COLUMNS": "250"}
    out = subprocess.run(
        [sys.executable, "-m", "harness", "list"], capture_output=True, text=True, env=env,
        timeout=60, check=True,
    ).stdout
    for system in registry.system_names():
        assert system in out
    for system in ("rq", "celery"):
        for config in registry.system(system).configs:
            assert config in out
