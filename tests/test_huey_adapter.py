"""Huey through the adapter: worker threads and processes, SQLite storage with no server, the
retries / retry_delay / retry_backoff mapping, the schedule and result store as registries, a
popped task lost with its worker, and a missing library. Real `huey_consumer` processes on the
test's Redis (or a SQLite file); the contract itself is test_contract.py."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from system_helpers import Driven, ok_jobs, records, wait_for

from comparisons.huey_adapter.adapter import task_options
from core.contract import RetryPolicy

# -- the retry policy as Huey task arguments ------------------------------------------------------


def test_no_policy_is_no_retries() -> None:
    assert task_options(None) == {"retries": 0}


def test_a_fixed_policy_is_retry_delay_without_backoff() -> None:
    assert task_options(RetryPolicy(max_retries=3, delay_s=0.5, backoff="fixed")) == {
        "retries": 3, "retry_delay": 0.5, "retry_backoff": None}


def test_an_exponential_policy_doubles_the_delay_with_retry_backoff() -> None:
    opts = task_options(RetryPolicy(max_retries=2, delay_s=0.5, backoff="exponential"))
    assert opts["retry_delay"] == 0.5 and opts["retry_backoff"] == 2


def test_the_native_policy_is_hueys_default_of_no_delay() -> None:
    assert task_options(RetryPolicy(max_retries=2, backoff="native")) == {"retries": 2}


def test_a_job_for_another_queue_is_refused_huey_has_one(
    drive: Callable[..., Driven]
) -> None:
    d = drive("huey")
    with pytest.raises(ValueError, match="one queue"):
        d.system.enqueue_many([d.job("noop"), d.job("noop", queue="high")])
    assert d.system.pending() == 0


# -- workers and storage ----------------------------------------------------------------------------


def test_the_processes_config_runs_jobs_in_worker_processes_of_the_consumer(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("sleep", ms=300)
    d = drive("huey", "processes")
    group = d.start("sleep")
    jobs = [d.job("sleep", [300]) for _ in range(6)]
    d.system.enqueue_many(jobs)
    wait_for(lambda: {j.job_id for j in jobs} <= ok_jobs(run_dir), 30, "6 sleep jobs")
    pids = {r["pid"] for r in records(run_dir)}
    assert group.pids[0] not in pids and pids <= set(group.tree_pids())


def test_the_sqlite_config_needs_no_server_its_tasks_live_in_a_file(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path,
    redis_client: redis.Redis,
) -> None:
    workload_factory("noop")
    d = drive("huey", "sqlite")
    delayed = d.job("noop", delay_s=30)
    d.system.enqueue(delayed)
    d.start("noop")
    jobs = [d.job("noop") for _ in range(20)]
    d.system.enqueue_many(jobs)
    wait_for(lambda: {j.job_id for j in jobs} <= ok_jobs(run_dir), 30, "20 jobs from SQLite")
    wait_for(lambda: d.system.registries().scheduled == [delayed.job_id], 10, "the schedule")
    assert redis_client.dbsize() == 0, "the sqlite config wrote to Redis"
    assert list(run_dir.glob("huey-*.db"))


# -- registries from the schedule and the result store ------------------------------------------


def test_a_delayed_job_is_scheduled_before_and_after_a_worker_moves_it(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any]
) -> None:
    workload_factory("noop")
    d = drive("huey")
    job = d.job("noop", delay_s=30)
    d.system.enqueue(job)
    assert d.system.registries().scheduled == [job.job_id] and d.system.pending() == 0
    d.start("noop")
    wait_for(lambda: d.system.huey.scheduled_count() == 1, 10, "the worker to move it to the schedule")
    assert d.system.registries().scheduled == [job.job_id]


def test_a_retry_waiting_in_the_schedule_is_listed_as_retry_and_a_final_error_as_failed(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("flaky", fail_first=10)
    d = drive("huey")
    once = d.job("flaky", ["a"])
    retried = d.job("flaky", ["b"], retry=RetryPolicy(max_retries=1, delay_s=30, backoff="fixed"))
    d.system.enqueue_many([once, retried])
    d.start("flaky")
    regs = wait_for(lambda: (r := d.system.registries()) and r.failed and r.retry and r, 15,
                    "a failed job and a waiting retry")
    assert regs.failed == [once.job_id] and regs.retry == [retried.job_id]
    assert [r["attempt"] for r in records(run_dir, retried.job_id)] == [1]


def test_an_exponential_retry_doubles_its_delay_within_the_schedulers_second(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("flaky", fail_first=2)
    d = drive("huey")
    job = d.job("flaky", ["k"], retry=RetryPolicy(max_retries=2, delay_s=0.5, backoff="exponential"))
    d.start("flaky")
    d.system.enqueue(job)
    wait_for(lambda: job.job_id in ok_jobs(run_dir), 30, "the third attempt")
    got = records(run_dir, job.job_id)
    assert [r["attempt"] for r in got] == [1, 2, 3]
    for k, (a, b) in enumerate(zip(got, got[1:], strict=False)):
        planned = 0.5 * 2**k
        waited = (b["start"] - a["end"]) / 1e9
        assert planned * 0.95 <= waited <= planned + 2.0, f"retry {k}: {waited:.2f} s"


# -- a crash: the task left the queue when the worker popped it ----------------------------------


def test_a_job_running_when_the_consumer_is_killed_is_lost(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("sleep", ms=3000)
    d = drive("huey")
    group = d.start("sleep")
    job = d.job("sleep", [3000])
    d.system.enqueue(job)
    wait_for(lambda: d.system.pending() == 0, 15, "a worker to take the job")
    time.sleep(0.3)
    d.system.stop(group, graceful=False)
    regs = d.system.registries()
    assert not records(run_dir, job.job_id)
    assert d.system.queued() == [] and not (regs.failed or regs.retry or regs.scheduled)


def test_sigint_lets_a_running_job_finish_before_the_consumer_exits(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("sleep", ms=1000)
    d = drive("huey")
    group = d.start("sleep")
    job = d.job("sleep", [1000])
    d.system.enqueue(job)
    wait_for(lambda: d.system.pending() == 0, 15, "a worker to take the job")
    d.system.stop(group, graceful=True)
    assert [r["outcome"] for r in records(run_dir, job.job_id)] == ["ok"]


# -- a missing library ----------------------------------------------------------------------------

MISSING = """
import sys
sys.modules["huey"] = None  # as if it were not installed
from core import registry
from core.errors import SystemUnavailable
try:
    registry.system("huey")
except SystemUnavailable as exc:
    print("UNAVAILABLE", exc)
print("OTHERS", registry.system("dramatiq").name)
row = [r for r in registry.describe_systems() if r["name"] == "huey"][0]
print("LISTED", row["available"])
"""


def test_without_the_huey_package_only_its_system_is_unavailable_and_the_message_names_it() -> None:
    out = subprocess.run([sys.executable, "-c", MISSING], capture_output=True, text=True,
                         timeout=60, cwd=Path(__file__).resolve().parent.parent,
                         env={**os.environ, "PYTHONPATH": "."}, check=True).stdout
    assert "UNAVAILABLE" in out and "(huey)" in out and "pip" in out
    assert "OTHERS dramatiq" in out and "LISTED False" in out
