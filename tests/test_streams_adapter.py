"""The Redis Streams system (taskiq-redis's RedisStreamBroker) through the adapter: what a
SIGKILLed consumer leaves in the pending entries list, the claim timeout that gives it back
(and runs a slow job twice), the retry policy on SmartRetryMiddleware's labels, the schedule
source as registry, bad input, and a missing library. Real worker processes on the test's
Redis; the contract itself is test_contract.py."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from system_helpers import ok_jobs, records, wait_for

from comparisons.streams_adapter.adapter import StreamsSystem, retry_labels
from comparisons.streams_adapter.app import GROUP, STREAM
from core.contract import JobSpec, RetryPolicy, WorkerGroup
from core.errors import NotSupported

Make = Callable[..., tuple[StreamsSystem, list[WorkerGroup]]]


@pytest.fixture
def streams(redis_url: str, run_dir: Path) -> Iterator[Make]:
    """streams(config, processes=None) -> (system, its started groups); every worker is stopped
    afterwards."""
    made: list[tuple[StreamsSystem, list[WorkerGroup]]] = []

    def make(config: str = "default", processes: int | None = None) -> tuple[StreamsSystem, list[WorkerGroup]]:
        cfg = StreamsSystem.configs[config]
        if processes is not None:
            cfg = replace(cfg, processes=processes)
        pair = (StreamsSystem(redis_url, run_dir, cfg), [])
        made.append(pair)
        return pair

    yield make
    for system, groups in made:
        try:
            for group in groups:
                system.stop(group, graceful=False)
        finally:
            system.close()


def job(workload: str, args: list[Any] | None = None, **kw: Any) -> JobSpec:
    return JobSpec(JobSpec.new_id(), workload, list(args or []), **kw)


def pel_size(system: StreamsSystem) -> int:
    return int(system.redis.xpending(STREAM, GROUP)["pending"])


def kill_first_worker_mid_jobs(system: StreamsSystem, groups: list[WorkerGroup], run_dir: Path,
                               jobs: list[JobSpec]) -> None:
    """Start one worker, let it read every job, SIGKILL it before any finished, start another."""
    groups.append(system.start("sleep"))
    system.enqueue_many(jobs)
    wait_for(lambda: system.pending() == 0 and pel_size(system) == len(jobs), 15,
             "the worker to read every entry")
    assert not ok_jobs(run_dir)
    os.kill(groups[0].pids[0], signal.SIGKILL)
    groups[0].processes[0].wait(timeout=10)
    groups.append(system.start("sleep"))


def test_a_killed_consumers_entries_stay_in_its_pel_where_the_claim_timeout_is_ten_minutes(
    streams: Make, workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("sleep", ms=3000)
    system, groups = streams("default", processes=1)
    jobs = [job("sleep", [3000]) for _ in range(3)]
    kill_first_worker_mid_jobs(system, groups, run_dir, jobs)
    time.sleep(4)  # longer than the jobs: a redelivery would have completed them
    assert not ok_jobs(run_dir), "the stock broker claimed entries before its 10-minute timeout"
    assert system.pending() == 0  # read, so not waiting for a first read
    assert sorted(system.queued()) == sorted(j.job_id for j in jobs)  # but held in the PEL
    assert pel_size(system) == 3


def test_a_short_claim_timeout_gives_a_killed_consumers_entries_to_another_consumer(
    streams: Make, workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("sleep", ms=300)
    system, groups = streams("claim_short", processes=1)
    jobs = [job("sleep", [300]) for _ in range(3)]
    groups.append(system.start("sleep"))
    # enqueue and kill before the 300 ms jobs end
    system.enqueue_many(jobs)
    wait_for(lambda: pel_size(system) == 3, 15, "the worker to read every entry")
    os.kill(groups[0].pids[0], signal.SIGKILL)
    groups[0].processes[0].wait(timeout=10)
    assert not ok_jobs(run_dir)
    groups.append(system.start("sleep"))
    wanted = {j.job_id for j in jobs}
    wait_for(lambda: wanted <= ok_jobs(run_dir), 20, "the claimed entries to complete")
    wait_for(lambda: pel_size(system) == 0, 10, "every entry acknowledged")
    for j in jobs:
        [rec] = records(run_dir, j.job_id)
        assert rec["outcome"] == "ok" and rec["pid"] == groups[1].pids[0]
    assert system.queued() == []


def test_a_job_running_longer_than_a_short_claim_timeout_runs_twice(
    streams: Make, workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("sleep", ms=3000)
    system, groups = streams("claim_short", processes=2)
    groups.append(system.start("sleep"))
    slow = job("sleep", [3000])
    system.enqueue(slow)
    wait_for(lambda: len([r for r in records(run_dir, slow.job_id) if r["outcome"] == "ok"]) == 2,
             30, "the slow job to complete in both workers")
    # XAUTOCLAIM takes any entry idle past the timeout, whoever holds it: the claimant may be
    # the very consumer still running it
    assert {r["pid"] for r in records(run_dir, slow.job_id)} <= set(groups[0].pids)


def test_the_retry_policy_becomes_smart_retry_labels_counting_attempts() -> None:
    assert retry_labels(None) == {}
    assert retry_labels(RetryPolicy(max_retries=0)) == {}
    assert retry_labels(RetryPolicy(max_retries=3, delay_s=0.5, backoff="fixed")) == {
        "retry_on_error": True, "max_retries": 4, "delay": 0.5}
    assert retry_labels(RetryPolicy(max_retries=2, backoff="native")) == {
        "retry_on_error": True, "max_retries": 3}


def test_an_exponential_backoff_is_refused_with_the_reason(streams: Make) -> None:
    system, _ = streams()
    with pytest.raises(NotSupported, match="linearly"):
        system.enqueue(job("noop", retry=RetryPolicy(max_retries=2, backoff="exponential")))
    assert system.pending() == 0


def test_a_batch_with_a_job_for_another_queue_is_refused_whole(streams: Make) -> None:
    system, _ = streams()
    batch = [job("noop", delay_s=5), job("noop"), job("noop", queue="high")]
    with pytest.raises(ValueError, match="'high' would never run"):
        system.enqueue_many(batch)
    assert system.pending() == 0 and system.queued() == []
    assert system.registries().scheduled == []


def test_a_delayed_job_waits_in_the_schedule_source_until_taskiqs_scheduler_sends_it(
    streams: Make, workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("noop")
    system, groups = streams()
    delayed = job("noop", delay_s=2.0)
    system.enqueue(delayed)
    assert system.registries().scheduled == [delayed.job_id]
    assert system.pending() == 0
    groups.append(system.start("noop"))
    wait_for(lambda: delayed.job_id in ok_jobs(run_dir), 20, "the delayed job")
    wait_for(lambda: system.registries().scheduled == [], 5, "the schedule to be deleted")


def test_a_failed_attempt_waits_as_a_retry_with_its_attempt_number(
    streams: Make, workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("flaky", fail_first=1)
    system, groups = streams()
    flaky = job("flaky", ["k"], retry=RetryPolicy(max_retries=1, delay_s=3.0, backoff="fixed"))
    system.enqueue(flaky)
    groups.append(system.start("flaky"))
    wait_for(lambda: flaky.job_id in system.registries().retry, 15, "the retry schedule")
    wait_for(lambda: flaky.job_id in ok_jobs(run_dir), 20, "the retry to succeed")
    attempts = records(run_dir, flaky.job_id)
    assert [(r["attempt"], r["outcome"]) for r in attempts] == [(1, "error"), (2, "ok")]
    assert attempts[1]["start"] - attempts[0]["end"] >= 3_000_000_000


def test_without_taskiq_redis_only_the_streams_system_is_unavailable_and_names_it() -> None:
    code = (
        "import sys; sys.modules['taskiq_redis'] = None\n"
        "from core import registry\n"
        "from core.errors import SystemUnavailable\n"
        "assert registry.system('rq').name == 'rq'\n"
        "try:\n"
        "    registry.system('streams')\n"
        "except SystemUnavailable as exc:\n"
        "    print(exc)\n"
        "rows = {r['name']: r for r in registry.describe_systems()}\n"
        "assert not rows['streams']['available'] and rows['celery']['available']\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, cwd=Path(__file__).resolve().parent.parent)
    assert out.returncode == 0, out.stderr
    assert "taskiq-redis" in out.stdout and "streams" in out.stdout


def test_an_idle_worker_on_a_quiet_stream_exits_promptly_on_sigterm(
    streams: Make, workload_factory: Callable[..., Any]
) -> None:
    workload_factory("noop")
    system, groups = streams("default", processes=1)
    group = system.start("noop")
    groups.append(group)
    group.signal(signal.SIGTERM)
    assert group.wait(10), "SIGTERM did not stop an idle worker (the stop flag must wake the loop)"
    assert group.processes[0].returncode == 0


def test_a_schedule_due_in_an_earlier_minute_is_still_sent_when_the_scheduler_starts(
    streams: Make, workload_factory: Callable[..., Any], run_dir: Path, redis_url: str
) -> None:
    """taskiq-redis finds past-minute schedules by parsing their keys: the prefix must let it."""
    import asyncio
    from datetime import UTC, datetime, timedelta

    from taskiq.kicker import AsyncKicker

    from comparisons.streams_adapter.app import TASK_NAME, make_broker, make_source

    workload_factory("noop")
    system, groups = streams()
    late = job("noop")
    source = make_source(redis_url)
    kicker: AsyncKicker[Any, Any] = AsyncKicker(TASK_NAME, make_broker(redis_url, {}), {})
    due = datetime.now(UTC) - timedelta(minutes=2)
    asyncio.run(kicker.with_task_id(late.job_id).schedule_by_time(source, due, *late.probe_args()))
    assert system.registries().scheduled == [late.job_id]
    groups.append(system.start("noop"))  # starts the scheduler: a schedule is waiting
    wait_for(lambda: late.job_id in ok_jobs(run_dir), 20, "the overdue schedule to be sent")
