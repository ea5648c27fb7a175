"""Celery through the adapter: pools, the per-job retry policy on autoretry_for, what the broker
tells about countdown tasks, acks_late after a crash, RabbitMQ when present, and bad input.
Real `celery worker` processes on the test's Redis; the contract itself is test_contract.py,
the bad input it shares with RQ test_adapter_input.py."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest
import redis
from celery import Task
from system_helpers import Driven, ok_jobs, records, wait_for

from comparisons.celery_adapter.adapter import ENV_AMQP_URL, CelerySystem, retry_kwarg
from comparisons.celery_adapter.app import ENV_BROKER, TASK_NAME, make_app
from core.contract import RetryPolicy
from core.errors import ConfigUnavailable
from core.procs import console_script
from core.redis_server import free_port

# -- the retry policy on the task -------------------------------------------------------------


@pytest.fixture
def task() -> Iterator[Task]:
    """The registered task of an app that never connects (nothing is sent)."""
    app = make_app("redis://127.0.0.1:1/0")
    yield app.tasks[TASK_NAME]
    app.close()


def with_request(task: Task, policy: RetryPolicy | None, retries: int) -> None:
    task.push_request(kwargs={"retry": retry_kwarg(policy)}, retries=retries)


def test_a_job_without_a_policy_gets_no_retries(task: Task) -> None:
    with_request(task, None, 0)
    try:
        assert task.max_retries == 0
    finally:
        task.pop_request()


@pytest.mark.parametrize(
    ("backoff", "retries", "expected"),
    [("fixed", 0, 0.5), ("fixed", 3, 0.5), ("exponential", 0, 0.5), ("exponential", 3, 4.0)],
)
def test_the_countdown_follows_the_jobs_policy(
    task: Task, backoff: str, retries: int, expected: float
) -> None:
    with_request(task, RetryPolicy(max_retries=5, delay_s=0.5, backoff=backoff), retries)  # type: ignore[arg-type]
    try:
        assert task.max_retries == 5
        assert task.default_retry_delay == pytest.approx(expected)
    finally:
        task.pop_request()


def test_the_native_policy_is_celerys_retry_backoff_with_jitter(task: Task) -> None:
    with_request(task, RetryPolicy(max_retries=5, backoff="native"), 4)
    try:
        delays = {task.default_retry_delay for _ in range(50)}
        assert all(0 <= d <= 16 for d in delays) and len(delays) > 1
    finally:
        task.pop_request()


def test_the_exponential_policy_waits_longer_before_each_retry(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("flaky", fail_first=2)
    d = drive("celery", "solo")
    job = d.job("flaky", ["k"], retry=RetryPolicy(max_retries=2, delay_s=0.5, backoff="exponential"))
    d.system.enqueue(job)
    group = d.start("flaky")
    wait_for(lambda: job.job_id in ok_jobs(run_dir), 30, "the third attempt")
    a, b, c = records(run_dir, job.job_id)
    assert [a["attempt"], b["attempt"], c["attempt"]] == [1, 2, 3]
    assert b["start"] - a["end"] >= 0.5e9 and c["start"] - b["end"] >= 1.0e9
    assert {a["pid"], b["pid"], c["pid"]} == {group.pids[0]}  # solo: in the worker itself


# -- pools ------------------------------------------------------------------------------------


def test_prefork_runs_jobs_in_the_pools_child_processes(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("noop")
    d = drive("celery", "default")
    d.system.enqueue_many([d.job("noop") for _ in range(6)])
    assert d.system.pending() == 6
    group = d.start("noop")
    wait_for(lambda: len(records(run_dir)) == 6, 30, "6 jobs")
    children = {p.pid for p in psutil.Process(group.pids[0]).children()}
    assert {r["pid"] for r in records(run_dir)} <= children and len(children) == 2
    wait_for(lambda: d.system.pending() == 0, 10, "pending to reach 0")


def test_the_threads_pool_runs_highlight_jobs_in_the_worker_process(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload = workload_factory("highlight", store_size=20)
    payloads = workload.payloads(20)
    d = drive("celery", "threads")
    d.system.enqueue_many([d.job("highlight", p) for p in payloads])
    group = d.start("highlight")
    wait_for(lambda: len(ok_jobs(run_dir)) == 20, 60, "20 highlight jobs")
    workload.verify(payloads)
    assert {r["pid"] for r in records(run_dir)} == {group.pids[0]}


# -- what the broker tells --------------------------------------------------------------------


def test_a_countdown_task_sent_before_any_worker_is_listed_as_scheduled(
    drive: Callable[..., Driven],
) -> None:
    d = drive("celery")
    job = d.job("noop", delay_s=30)
    d.system.enqueue(job)
    assert d.system.registries().scheduled == [job.job_id]


def test_countdown_tasks_held_by_a_worker_are_listed_as_scheduled_or_retry(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("flaky", fail_first=1)
    d = drive("celery", "solo")
    retried = d.job("flaky", ["k"], retry=RetryPolicy(max_retries=1, delay_s=3, backoff="fixed"))
    delayed = d.job("flaky", ["later"], delay_s=30)
    d.system.enqueue_many([retried, delayed])
    d.start("flaky")
    wait_for(lambda: d.system.registries().retry == [retried.job_id], 15, "the retry listing")
    assert d.system.registries().scheduled == [delayed.job_id]
    # both are counting down in the worker, neither is due (a retry is a new message: it
    # counts as pending for the moment it sits in the queue list, until the worker takes it)
    wait_for(lambda: d.system.pending() == 0, 3, "pending to leave out the countdown tasks")
    assert d.system.registries().counts()["failed"] is None  # no result backend: not kept
    wait_for(lambda: retried.job_id in ok_jobs(run_dir), 30, "the retry to succeed")


# -- a crash in the middle of a task ----------------------------------------------------------


def _kill_pool_children_mid_task(d: Driven, run_dir: Path, client: redis.Redis, ms: int) -> str:
    job = d.job("sleep", [ms])
    group = d.start("sleep")
    d.system.enqueue(job)
    wait_for(lambda: client.llen("default") == 0, 10, "the worker to take the job")
    time.sleep(0.5)  # handed to a pool process at once, and still sleeping
    assert not records(run_dir, job.job_id)
    for child in psutil.Process(group.pids[0]).children():
        os.kill(child.pid, signal.SIGKILL)
    return job.job_id


def test_with_acks_late_a_running_task_is_not_counted_as_pending(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path,
    redis_client: redis.Redis,
) -> None:
    workload_factory("sleep")
    d = drive("celery", "acks_late")
    d.start("sleep")
    job = d.job("sleep", [4000])
    d.system.enqueue(job)
    wait_for(lambda: redis_client.llen("default") == 0, 10, "the worker to take the job")
    wait_for(lambda: redis_client.hlen("unacked") == 1, 10, "the message to be held")
    wait_for(lambda: d.system.pending() == 0, 1.5, "the running task to leave pending")
    assert not records(run_dir, job.job_id)  # still running: held, unacknowledged, not pending


def test_acks_late_redelivers_a_task_whose_process_was_killed(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path,
    redis_client: redis.Redis,
) -> None:
    workload_factory("sleep")
    d = drive("celery", "acks_late")
    job_id = _kill_pool_children_mid_task(d, run_dir, redis_client, 2000)
    wait_for(lambda: job_id in ok_jobs(run_dir), 60, "the redelivered task to complete")


def test_without_acks_late_a_task_whose_process_was_killed_is_lost(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path,
    redis_client: redis.Redis,
) -> None:
    workload_factory("sleep")
    d = drive("celery", "default")
    job_id = _kill_pool_children_mid_task(d, run_dir, redis_client, 2000)
    time.sleep(3.0)  # longer than the task: a redelivery would have finished by now
    assert not records(run_dir, job_id)
    assert d.system.pending() == 0 and job_id not in d.system.registries().scheduled


# -- RabbitMQ, when there is one --------------------------------------------------------------


def test_the_rabbitmq_config_runs_jobs_when_a_broker_answers(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path
) -> None:
    workload_factory("noop")
    d = drive("celery", "rabbitmq")  # skips, printing the reason, without a broker
    jobs = [d.job("noop") for _ in range(5)]
    d.system.enqueue_many(jobs)
    d.start("noop")
    wait_for(lambda: {j.job_id for j in jobs} <= ok_jobs(run_dir), 30, "5 jobs over AMQP")
    wait_for(lambda: d.system.pending() == 0, 10, "the AMQP queue to drain")


def test_an_unreachable_amqp_broker_makes_the_config_unavailable_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(ENV_AMQP_URL, f"amqp://guest:guest@127.0.0.1:{free_port()}//")
    with pytest.raises(ConfigUnavailable, match=ENV_AMQP_URL):
        CelerySystem.check_config(CelerySystem.configs["rabbitmq"])


# -- bad input --------------------------------------------------------------------------------


def test_the_app_module_without_a_broker_says_how_to_give_one(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != ENV_BROKER}
    proc = subprocess.run(
        [console_script("celery"), "-A", "comparisons.celery_adapter.app", "worker"],
        capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path,
    )
    assert proc.returncode != 0 and ENV_BROKER in proc.stdout + proc.stderr


def test_a_garbage_message_stops_the_worker_and_the_jobs_behind_it_wait_for_the_next(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path,
    redis_client: redis.Redis,
) -> None:
    """Celery's own behaviour, shown rather than hidden: a queue entry kombu cannot decode is an
    "Unrecoverable error" that ends the worker. The job behind it is not lost: it waits in the
    queue and the next worker runs it."""
    workload_factory("noop")
    d = drive("celery", "solo")
    first = d.start("noop")
    redis_client.lpush("default", b"{not json")
    job = d.job("noop")
    d.system.enqueue(job)
    wait_for(lambda: first.processes[0].poll() is not None, 30, "the worker to stop")
    log = (run_dir / "logs" / "celery-worker-0.log").read_text(errors="replace")
    assert "Unrecoverable error" in log and "JSONDecodeError" in log
    assert d.system.pending() == 1 and not records(run_dir, job.job_id)
    d.start("noop")
    wait_for(lambda: records(run_dir, job.job_id), 30, "the next worker to run the job")
