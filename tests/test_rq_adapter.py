"""RQ through the adapter: its worker classes, Retry and scheduler mapping, registries and bad
input. Real `rq worker` processes on the test's Redis; the contract itself is test_contract.py,
the bad input it shares with Celery test_adapter_input.py."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis
from rq import Worker
from rq.registry import ScheduledJobRegistry
from system_helpers import Driven, ok_jobs, records, wait_for

from comparisons.rq_adapter.adapter import RQSystem, rq_retry
from core.contract import JobSpec, RetryPolicy
from core.errors import NotSupported

# -- the retry policy as RQ's Retry -----------------------------------------------------------


def test_a_fixed_policy_becomes_whole_second_intervals_rounded_up() -> None:
    retry = rq_retry(RetryPolicy(max_retries=3, delay_s=0.2, backoff="fixed"))
    assert retry is not None and retry.max == 3 and retry.intervals == [1, 1, 1]


def test_an_exponential_policy_doubles_each_interval() -> None:
    retry = rq_retry(RetryPolicy(max_retries=4, delay_s=1.5, backoff="exponential"))
    assert retry is not None and retry.intervals == [2, 3, 6, 12]


def test_the_native_policy_is_rqs_default_of_no_interval() -> None:
    retry = rq_retry(RetryPolicy(max_retries=2, backoff="native"))
    assert retry is not None and retry.max == 2 and retry.intervals == [0]


def test_no_policy_or_zero_retries_means_no_retry() -> None:
    assert rq_retry(None) is None
    assert rq_retry(RetryPolicy(max_retries=0)) is None


# -- worker classes ---------------------------------------------------------------------------


def test_the_forking_worker_runs_each_job_in_a_new_work_horse(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("noop")
    d = drive("rq", "default")
    jobs = [d.job("noop") for _ in range(3)]
    d.system.enqueue_many(jobs)
    group = d.start("noop")
    wait_for(lambda: len(records(run_dir)) == 3, 30, "3 jobs")
    pids = {r["pid"] for r in records(run_dir)}
    assert len(pids) == 3 and group.pids[0] not in pids


def test_the_simple_worker_runs_jobs_in_the_worker_itself(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("noop")
    d = drive("rq", "simple")
    d.system.enqueue_many([d.job("noop") for _ in range(3)])
    group = d.start("noop")
    wait_for(lambda: len(records(run_dir)) == 3, 30, "3 jobs")
    assert {r["pid"] for r in records(run_dir)} == {group.pids[0]}


def test_w4_starts_four_registered_workers(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], redis_client: redis.Redis
) -> None:
    workload_factory("noop")
    d = drive("rq", "w4")
    group = d.start("noop")
    assert len(group.pids) == 4
    assert {w.pid for w in Worker.all(connection=redis_client)} == set(group.pids)


def test_the_high_queue_is_served_before_default(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("noop")
    d = drive("rq", "simple")
    default = [d.job("noop") for _ in range(5)]
    high = [d.job("noop", queue="high") for _ in range(5)]
    d.system.enqueue_many(default + high)  # high ones last, yet they run first
    d.start("noop")
    wait_for(lambda: len(records(run_dir)) == 10, 30, "10 jobs")
    first_five = {r["job"] for r in records(run_dir)[:5]}
    assert first_five == {j.job_id for j in high}


def test_a_worker_that_cannot_start_is_reported_with_its_log(
    drive: Callable[..., Driven], redis_url: str, run_dir: Path
) -> None:
    config = RQSystem.configs["simple"]
    broken = type(config)("broken", 1, 1, {**config.options, "worker_class": "rq.NoSuchWorker"})
    system = RQSystem(redis_url, run_dir, broken)
    try:
        with pytest.raises(RuntimeError, match="exited at start-up"):
            system.start("noop")
    finally:
        system.close()


# -- registries -------------------------------------------------------------------------------


def test_a_job_whose_retries_ran_out_is_in_the_failed_registry(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("flaky", fail_first=5)
    d = drive("rq", "simple")
    job = d.job("flaky", ["k"], retry=RetryPolicy(max_retries=1, delay_s=0, backoff="fixed"))
    d.system.enqueue(job)
    d.start("flaky")
    wait_for(lambda: job.job_id in d.system.registries().failed, 30, "the failed registry")
    assert [r["attempt"] for r in records(run_dir, job.job_id)] == [1, 2]
    assert d.system.registries().counts()["dead"] is None  # RQ has no separate dead set


def test_a_retry_waiting_for_its_interval_is_listed_as_retry(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("flaky", fail_first=1)
    d = drive("rq", "simple")
    job = d.job("flaky", ["k"], retry=RetryPolicy(max_retries=1, delay_s=2, backoff="fixed"))
    d.system.enqueue(job)
    d.start("flaky")
    wait_for(lambda: job.job_id in d.system.registries().retry, 30, "the retry listing")
    assert job.job_id not in d.system.registries().scheduled
    wait_for(lambda: job.job_id in ok_jobs(run_dir), 30, "the retry to succeed")
    first, second = records(run_dir, job.job_id)
    assert second["start"] - first["end"] > 0.9e9  # RQ may start a retry up to 1 s early


def test_a_delayed_job_is_scheduled_on_a_whole_second_not_before_its_delay(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], redis_client: redis.Redis
) -> None:
    """RQ scores scheduled jobs in whole seconds, truncated; the adapter rounds up instead."""
    workload_factory("noop")
    d = drive("rq")
    before = time.time()
    job = d.job("noop", delay_s=30.5)
    d.system.enqueue(job)
    assert d.system.registries().scheduled == [job.job_id]
    assert d.system.pending() == 0
    key = ScheduledJobRegistry("default", connection=redis_client).key
    score = redis_client.zscore(key, job.job_id)
    assert score is not None and score == int(score) and score >= before + 30.5


# -- the scheduler, where delays or retries need it -------------------------------------------


def _argv(group: Any) -> list[str]:
    """How each process was started (RQ retitles its workers, so not from /proc)."""
    return [" ".join(map(str, p.args)) for p in group.processes]


def test_no_scheduler_runs_when_no_job_needs_one(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any]
) -> None:
    workload_factory("noop")
    d = drive("rq")
    d.system.enqueue(d.job("noop"))
    group = d.start("noop")
    assert not any("--with-scheduler" in c for c in _argv(group))


def test_workers_start_with_the_scheduler_when_delayed_jobs_wait(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("noop")
    d = drive("rq")
    job = d.job("noop", delay_s=0.5)
    d.system.enqueue(job)
    group = d.start("noop")
    assert all("--with-scheduler" in c for c in _argv(group))
    wait_for(lambda: records(run_dir, job.job_id), 30, "the delayed job")


def test_a_delayed_job_after_start_brings_up_rqs_scheduler(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("noop")
    d = drive("rq")
    group = d.start("noop")
    job = d.job("noop", delay_s=0.5)
    d.system.enqueue(job)
    assert len(group.processes) == 2
    assert "comparisons.rq_adapter.scheduler" in _argv(group)[1]
    assert psutil.Process(group.pids[1]).is_running()
    wait_for(lambda: records(run_dir, job.job_id), 30, "the delayed job")


def test_without_a_scheduler_delayed_jobs_are_refused(
    drive: Callable[..., Driven], redis_url: str, run_dir: Path
) -> None:
    config = RQSystem.configs["default"]
    system = RQSystem(redis_url, run_dir, type(config)("nosched", 1, 1,
                                                       {**config.options, "scheduler": "never"}))
    try:
        with pytest.raises(NotSupported, match="never run"):
            system.enqueue(JobSpec(JobSpec.new_id(), "noop", delay_s=1))
        assert system.pending() == 0 and system.registries().scheduled == []
    finally:
        system.close()


def test_an_unknown_scheduler_mode_is_refused(redis_url: str, run_dir: Path) -> None:
    config = RQSystem.configs["default"]
    with pytest.raises(ValueError, match="auto, always, never"):
        RQSystem(redis_url, run_dir, type(config)("x", 1, 1, {**config.options, "scheduler": "on"}))


# -- bad input --------------------------------------------------------------------------------


def test_a_job_naming_an_unknown_workload_fails_and_says_which_exist(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("noop")
    d = drive("rq", "simple")
    job = d.job("resize")
    d.system.enqueue(job)
    d.start("noop")
    wait_for(lambda: job.job_id in d.system.registries().failed, 30, "the failed registry")
    [rec] = records(run_dir, job.job_id)
    assert "unknown workload" in rec["error"] and "highlight" in rec["error"]


def test_a_garbage_entry_in_the_queue_does_not_stop_the_worker(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path,
    redis_client: redis.Redis,
) -> None:
    """An id in RQ's queue list with no job hash behind it: RQ skips it, the next job runs."""
    workload_factory("noop")
    d = drive("rq", "simple")
    redis_client.rpush("rq:queue:default", "no-such-job")
    job = d.job("noop")
    d.system.enqueue(job)
    group = d.start("noop")
    wait_for(lambda: records(run_dir, job.job_id), 30, "the job after the garbage entry")
    assert group.processes[0].poll() is None
