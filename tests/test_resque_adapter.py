"""The Resque clone through the System contract: real workers per config, probe records,
registries, delays, retries and a clean stop."""

from __future__ import annotations

import time

import pytest
from system_helpers import wait_for

from core import probe, registry
from core.contract import JobSpec, RetryPolicy, SystemConfig
from core.errors import NotSupported


@pytest.fixture
def system_factory(redis_url, run_dir):
    made = []

    def make(config: str):
        system = registry.system("resque_clone")(redis_url, run_dir, config)
        made.append(system)
        return system

    yield make
    for system in made:
        for group in getattr(system, "_groups", []):
            system.stop(group, graceful=False)
        system.close()


def start(system, workload):
    group = system.start(workload)
    system._groups = [*getattr(system, "_groups", []), group]
    return group


def records(run_dir):
    return list(probe.read_records(run_dir))


def test_the_five_configs_exist_with_their_settings():
    cls = registry.system("resque_clone")
    assert sorted(cls.configs) == ["blocking", "default", "interval-0.1", "nofork", "retry"]
    default = cls.configs["default"].options
    assert default["interval"] == 5.0 and default["fork"] is True
    assert cls.configs["nofork"].options["fork"] is False
    assert cls.configs["blocking"].options["blocking"] is True
    assert cls.configs["retry"].options["retry"] is True


@pytest.mark.parametrize("config", ["interval-0.1", "nofork", "blocking"])
def test_jobs_run_through_the_probe_and_stop_leaves_nothing(system_factory, workload_factory,
                                                            run_dir, config):
    workload_factory("noop")
    system = system_factory(config)
    jobs = [JobSpec(JobSpec.new_id(), "noop") for _ in range(20)]
    system.enqueue_many(jobs[:10])
    group = start(system, "noop")
    for job in jobs[10:]:
        system.enqueue(job)
    wait_for(lambda: len(records(run_dir)) == 20, what="20 probe records")
    assert {r["job"] for r in records(run_dir)} == {j.job_id for j in jobs}
    assert {r["system"] for r in records(run_dir)} == {"resque_clone"}
    assert system.pending() == 0 and system.registries().counts()["failed"] == 0
    system.stop(group)
    assert group.tree_pids() == []


def test_two_processes_are_two_workers(redis_url, run_dir, workload_factory, redis_client):
    workload_factory("noop")
    cls = registry.system("resque_clone")
    base = cls.configs["interval-0.1"]
    system = cls(redis_url, run_dir, SystemConfig(base.name, processes=2, options=dict(base.options)))
    group = system.start("noop")
    try:
        assert len(redis_client.smembers("resque:workers")) == 2
    finally:
        system.stop(group)
        system.close()
    assert redis_client.smembers("resque:workers") == set() and group.tree_pids() == []


def test_failures_are_listed_by_job_id(system_factory, workload_factory, run_dir):
    workload_factory("flaky", fail_first=5)
    system = system_factory("interval-0.1")
    job = JobSpec(JobSpec.new_id(), "flaky", ["k"])
    system.enqueue(job)
    start(system, "flaky")
    wait_for(lambda: system.registries().failed == [job.job_id], what="the failure")
    regs = system.registries()
    assert regs.counts()["retry"] is None and regs.counts()["dead"] is None


def test_delayed_jobs_wait_in_the_schedule_then_run(system_factory, workload_factory, run_dir):
    workload_factory("noop")
    system = system_factory("interval-0.1")
    job = JobSpec(JobSpec.new_id(), "noop", delay_s=1.0)
    system.enqueue(job)
    assert system.registries().scheduled == [job.job_id] and system.pending() == 0
    start(system, "noop")
    [record] = wait_for(lambda: records(run_dir), timeout=10, what="the delayed job")
    assert record["start"] >= job.planned_ns  # never before its time (rounded up to a second)


def test_retries_need_the_retry_config(system_factory):
    system = system_factory("default")
    with pytest.raises(NotSupported, match="no automatic retries"):
        system.enqueue(JobSpec(JobSpec.new_id(), "flaky", ["k"], retry=RetryPolicy(2, 0.0, "fixed")))


def test_retry_config_retries_with_attempt_numbers(system_factory, workload_factory, run_dir):
    workload_factory("flaky", fail_first=2)
    system = system_factory("retry")
    job = JobSpec(JobSpec.new_id(), "flaky", ["k"], retry=RetryPolicy(3, 1.0, "fixed"))
    system.enqueue(job)
    t0 = time.time_ns()
    start(system, "flaky")
    wait_for(lambda: [r for r in records(run_dir) if r["outcome"] == "ok"], timeout=20, what="success")
    attempts = sorted(records(run_dir), key=lambda r: r["start"])
    assert [(r["attempt"], r["outcome"]) for r in attempts] == [(1, "error"), (2, "error"), (3, "ok")]
    gaps = [(b["start"] - a["end"]) / 1e9 for a, b in zip(attempts, attempts[1:], strict=False)]
    assert all(0.0 < g < 3.5 for g in gaps), gaps  # 1 s delay, whole-second schedule, 1 s poll
    assert attempts[0]["start"] >= t0
    assert system.registries().failed == []


def test_records_survive_clearing_between_warm_up_and_measurement(system_factory, workload_factory,
                                                                  run_dir):
    workload_factory("noop")
    system = system_factory("interval-0.1")
    start(system, "noop")
    system.enqueue(JobSpec(JobSpec.new_id(), "noop"))
    wait_for(lambda: len(records(run_dir)) == 1, what="the warm-up job")
    probe.clear_records(run_dir)
    jobs = [JobSpec(JobSpec.new_id(), "noop") for _ in range(3)]
    system.enqueue_many(jobs)
    wait_for(lambda: len(records(run_dir)) == 3, what="the measured jobs")
    assert {r["job"] for r in records(run_dir)} == {j.job_id for j in jobs}


def test_high_is_worked_before_default(system_factory, workload_factory, run_dir):
    workload_factory("noop")
    system = system_factory("nofork")
    low = [JobSpec(JobSpec.new_id(), "noop", queue="default") for _ in range(5)]
    high = [JobSpec(JobSpec.new_id(), "noop", queue="high") for _ in range(5)]
    system.enqueue_many(low + high)
    start(system, "noop")
    wait_for(lambda: len(records(run_dir)) == 10, what="10 jobs")
    order = [r["job"] for r in sorted(records(run_dir), key=lambda r: r["start"])]
    assert set(order[:5]) == {j.job_id for j in high}
