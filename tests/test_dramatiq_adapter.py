"""Dramatiq through the adapter: its processes x threads, the Retries middleware mapping, the
delay and dead-letter queues as registries, ack after the work under a crash, the RabbitMQ
config, and a missing library. Real `dramatiq` workers on the test's Redis (and on RabbitMQ where
one answers); the contract itself is test_contract.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from system_helpers import Driven, ok_jobs, records, wait_for

from comparisons.dramatiq_adapter.adapter import ENV_AMQP_URL, DramatiqSystem, message_options
from comparisons.dramatiq_adapter.wire import FIXED_DELAY_OPTION
from core.contract import RetryPolicy
from core.errors import ConfigUnavailable

# -- the retry policy as Retries middleware options ---------------------------------------------


def test_no_policy_turns_off_dramatiqs_default_of_twenty_retries() -> None:
    assert message_options(None) == {"max_retries": 0}
    assert message_options(RetryPolicy(max_retries=0)) == {"max_retries": 0}


def test_an_exponential_policy_is_the_middlewares_min_backoff_in_ms() -> None:
    opts = message_options(RetryPolicy(max_retries=3, delay_s=0.25, backoff="exponential"))
    assert opts["max_retries"] == 3 and opts["min_backoff"] == 250
    assert opts["max_backoff"] >= 250 * 2**3  # never caps the doubling the policy asks for


def test_a_fixed_policy_is_an_exact_delay_the_actor_raises_as_retry() -> None:
    opts = message_options(RetryPolicy(max_retries=2, delay_s=0.2, backoff="fixed"))
    assert opts == {"max_retries": 2, FIXED_DELAY_OPTION: 200}


def test_the_native_policy_keeps_the_middlewares_own_backoff() -> None:
    assert message_options(RetryPolicy(max_retries=4, backoff="native")) == {"max_retries": 4}


# -- workers --------------------------------------------------------------------------------------


def test_the_default_config_runs_jobs_in_worker_processes_forked_by_one_main(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("sleep", ms=200)
    d = drive("dramatiq")
    group = d.start("sleep")
    jobs = [d.job("sleep", [200]) for _ in range(16)]
    d.system.enqueue_many(jobs)
    wait_for(lambda: {j.job_id for j in jobs} <= ok_jobs(run_dir), 30, "16 sleep jobs")
    pids = {r["pid"] for r in records(run_dir)}
    workers = set(group.tree_pids()) - set(group.pids)
    assert len(workers) == 2, "the main process forks one worker process per configured process"
    assert pids <= workers  # (a burst may all go to one: each prefetches 2 x 8 messages)


def test_the_threads_config_runs_many_jobs_at_once_in_one_process(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("sleep", ms=500)
    d = drive("dramatiq", "one_process")
    d.start("sleep")
    jobs = [d.job("sleep", [500]) for _ in range(16)]
    d.system.enqueue_many(jobs)
    wait_for(lambda: {j.job_id for j in jobs} <= ok_jobs(run_dir), 30, "16 sleep jobs")
    got = records(run_dir)
    assert len({r["pid"] for r in got}) == 1
    span = (max(r["end"] for r in got) - min(r["start"] for r in got)) / 1e9
    assert span < 16 * 0.5 / 4, f"16 x 500 ms jobs took {span:.1f} s: not run side by side"


# -- registries from the delay and dead-letter queues ----------------------------------------------


def test_a_delayed_job_waits_in_the_delay_queue_as_scheduled(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any]
) -> None:
    workload_factory("noop")
    d = drive("dramatiq")
    job = d.job("noop", delay_s=30)
    d.system.enqueue(job)
    regs = d.system.registries()
    assert regs.scheduled == [job.job_id] and regs.retry == []
    assert d.system.pending() == 0


def test_a_job_failing_without_a_policy_is_dead_lettered_as_failed_and_one_out_of_retries_as_dead(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("flaky", fail_first=10)
    d = drive("dramatiq", "one_process")
    once = d.job("flaky", ["a"])
    retried = d.job("flaky", ["b"], retry=RetryPolicy(max_retries=1, delay_s=0.1, backoff="fixed"))
    d.system.enqueue_many([once, retried])
    d.start("flaky")
    wait_for(lambda: len(records(run_dir, retried.job_id)) == 2, 30, "two attempts")
    regs = wait_for(lambda: (r := d.system.registries()) and len(r.failed) + len(r.dead) == 2
                    and r, 10, "both in the dead-letter queue")
    assert regs.failed == [once.job_id] and regs.dead == [retried.job_id]
    assert len(records(run_dir, once.job_id)) == 1


def test_an_exponential_retry_waits_between_one_and_two_times_its_planned_delay(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("flaky", fail_first=2)
    d = drive("dramatiq", "one_process")
    job = d.job("flaky", ["k"], retry=RetryPolicy(max_retries=2, delay_s=0.3, backoff="exponential"))
    d.start("flaky")
    d.system.enqueue(job)
    wait_for(lambda: job.job_id in ok_jobs(run_dir), 30, "the third attempt")
    got = records(run_dir, job.job_id)
    assert [r["attempt"] for r in got] == [1, 2, 3]
    for k, (a, b) in enumerate(zip(got, got[1:], strict=False)):
        planned = 0.3 * 2**k
        waited = (b["start"] - a["end"]) / 1e9
        assert planned * 0.95 <= waited <= planned * 2 + 3.0, f"retry {k}: {waited:.2f} s"


# -- a crash: ack after the work ------------------------------------------------------------------


def test_jobs_running_when_the_workers_are_killed_stay_queued_not_lost(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("sleep", ms=3000)
    d = drive("dramatiq", "one_process")
    group = d.start("sleep")
    jobs = [d.job("sleep", [3000]) for _ in range(4)]
    d.system.enqueue_many(jobs)
    wait_for(lambda: d.system.pending() == 0, 15, "the workers to take every job")
    time.sleep(0.5)
    d.system.stop(group, graceful=False)  # SIGKILL the main process and its workers
    assert not records(run_dir), "a 3 s job finished before the kill"
    assert sorted(d.system.queued() or []) == sorted(j.job_id for j in jobs)
    assert d.system.registries().failed == []


# -- RabbitMQ -------------------------------------------------------------------------------------


def test_the_rabbitmq_config_is_unavailable_with_the_reason_when_no_broker_answers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_AMQP_URL, "amqp://guest:guest@127.0.0.1:1/%2F")
    with pytest.raises(ConfigUnavailable, match=f"127.0.0.1:1.*{ENV_AMQP_URL}"):
        DramatiqSystem.check_config(DramatiqSystem.configs["rabbitmq"])


def test_the_rabbitmq_config_runs_jobs_and_retries_on_rabbitmq(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("flaky", fail_first=1)
    d = drive("dramatiq", "rabbitmq")  # skips, printing the reason, without a broker
    d.start("flaky")
    job = d.job("flaky", ["r"], retry=RetryPolicy(max_retries=1, delay_s=0.1, backoff="fixed"))
    d.system.enqueue(job)
    wait_for(lambda: job.job_id in ok_jobs(run_dir), 30, "the retried job on RabbitMQ")
    assert [r["attempt"] for r in records(run_dir, job.job_id)] == [1, 2]
    assert d.system.pending() == 0


# -- a missing library ----------------------------------------------------------------------------

MISSING = """
import sys
sys.modules[{package!r}] = None  # as if it were not installed
from core import registry
from core.errors import SystemUnavailable
try:
    registry.system({system!r})
except SystemUnavailable as exc:
    print("UNAVAILABLE", exc)
print("OTHERS", registry.system("rq").name)
row = [r for r in registry.describe_systems() if r["name"] == {system!r}][0]
print("LISTED", row["available"])
"""


def test_without_the_dramatiq_package_only_its_system_is_unavailable_and_the_message_names_it() -> None:
    code = MISSING.format(package="dramatiq", system="dramatiq")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         cwd=Path(__file__).resolve().parent.parent,
                         env={**os.environ, "PYTHONPATH": "."}, check=True).stdout
    assert "UNAVAILABLE" in out and "(dramatiq)" in out and "pip" in out
    assert "OTHERS rq" in out and "LISTED False" in out


def test_sigterm_lets_a_running_job_finish_before_the_workers_exit(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("sleep", ms=1000)
    d = drive("dramatiq", "one_process")
    group = d.start("sleep")
    job = d.job("sleep", [1000])
    d.system.enqueue(job)
    wait_for(lambda: d.system.pending() == 0, 15, "a worker to take the job")
    time.sleep(0.2)
    assert d.system.graceful_signal == signal.SIGTERM
    d.system.stop(group, graceful=True)
    assert [r["outcome"] for r in records(run_dir, job.job_id)] == ["ok"]
    assert d.system.queued() == []


def test_the_throughput_sweep_plans_each_concurrency_of_two_processes_once() -> None:
    """scaled() cannot give 2 worker processes fewer than 2 jobs at once: the sweep's 1 and 2
    are the same cell, planned once (two cells with one id would share their raw records)."""
    from harness.scenarios import throughput

    sizes = dict(throughput.SCENARIO.plan("default").sizes)
    planned = throughput.cells(DramatiqSystem, ["default"], ["noop"], sizes)
    tags = [c.tag for c in planned]
    assert len(tags) == len(set(tags)) and "c2" in tags
