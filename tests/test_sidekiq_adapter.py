"""The Sidekiq clone's adapter beyond the shared contract: registries, priority, reliable
recovery after a crash, the RetryPolicy mapping, and PygmentsWorker doing the real job."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from system_helpers import records, wait_for

from comparisons.sidekiq_clone.adapter import SidekiqCloneSystem
from core.contract import JobSpec, RetryPolicy, WorkerGroup


@pytest.fixture
def system(redis_url: str, run_dir: Path) -> Iterator[Callable[[str], SidekiqCloneSystem]]:
    made: list[tuple[SidekiqCloneSystem, list[WorkerGroup]]] = []

    def make(config: str = "default") -> SidekiqCloneSystem:
        s = SidekiqCloneSystem(redis_url, run_dir, config)
        groups: list[WorkerGroup] = []
        original = s.start

        def start(workload: str) -> WorkerGroup:
            group = original(workload)
            groups.append(group)
            return group

        s.start = start  # type: ignore[method-assign]
        made.append((s, groups))
        return s

    yield make
    for s, groups in made:
        for group in groups:
            s.stop(group, graceful=False)
        s.close()


def job(workload: str, args: list[Any] | None = None, **kw: Any) -> JobSpec:
    return JobSpec(JobSpec.new_id(), workload, list(args or []), **kw)


def test_registries_read_retry_dead_and_scheduled(system: Any, workload_factory: Any) -> None:
    workload_factory("flaky", fail_first=5)
    s = system("c1")
    dead = job("flaky", ["a"])  # no policy: retry 0, dead at once
    retrying = job("flaky", ["b"], retry=RetryPolicy(3, 60.0, "fixed"))
    later = job("flaky", ["c"], delay_s=60)
    s.enqueue_many([dead, retrying, later])
    s.start("flaky")
    regs = wait_for(lambda: (r := s.registries()).dead and r.retry and r, 20, "dead and retry")
    assert regs.dead == [dead.job_id] and regs.retry == [retrying.job_id]
    assert regs.scheduled == [later.job_id] and regs.unsupported == ["failed"]
    assert regs.counts()["failed"] is None


def test_a_fixed_policy_becomes_exact_retry_delays(system: Any, workload_factory: Any,
                                                   run_dir: Path) -> None:
    workload_factory("flaky", fail_first=2)
    s = system("c1")
    j = job("flaky", ["k"], retry=RetryPolicy(3, 0.5, "fixed"))
    s.enqueue(j)
    s.start("flaky")
    wait_for(lambda: len(records(run_dir)) == 3, 30, "three attempts")
    got = records(run_dir)
    gaps = [(b["start"] - a["end"]) / 1e9 for a, b in zip(got, got[1:], strict=False)]
    assert all(0.5 <= g <= 0.5 + 1.5 + 0.3 for g in gaps), gaps  # + poll interval (avg 1 s)
    assert [r["attempt"] for r in got] == [1, 2, 3]


def test_the_high_queue_is_served_first(system: Any, workload_factory: Any, run_dir: Path) -> None:
    workload_factory("noop")
    s = system("c1")
    jobs = [job("noop", queue="default") for _ in range(5)] + \
        [job("noop", queue="high") for _ in range(5)]
    s.enqueue_many(jobs)
    s.start("noop")
    wait_for(lambda: len(records(run_dir)) == 10, 20, "ten jobs")
    order = [r["job"] for r in records(run_dir)]
    assert set(order[:5]) == {j.job_id for j in jobs[5:]}


def test_reliable_config_recovers_jobs_after_a_crash(system: Any, workload_factory: Any,
                                                     run_dir: Path, redis_client: redis.Redis) -> None:
    workload_factory("sleep", ms=400)
    s = system("reliable")
    jobs = [job("sleep", [400]) for _ in range(3)]
    s.enqueue_many(jobs)
    group = s.start("sleep")
    wait_for(lambda: redis_client.llen("queue:default") == 0, 10, "the jobs to be taken")
    s.stop(group, graceful=False)  # SIGKILL mid-job
    assert not {r["job"] for r in records(run_dir) if r["outcome"] == "ok"}
    s.start("sleep")  # the new process gives the dead one's jobs back
    wait_for(lambda: {r["job"] for r in records(run_dir) if r["outcome"] == "ok"}
             >= {j.job_id for j in jobs}, 20, "every job to complete after recovery")


def test_the_adapter_pushes_the_probe_arguments(system: Any, redis_client: redis.Redis) -> None:
    s = system()
    j = job("noop", [1, "x"], queue="low")
    s.enqueue(j)
    payload = json.loads(redis_client.lrange("queue:low", 0, -1)[0])
    assert payload["class"] == "QueuebenchWorker" and payload["retry"] == 0
    assert payload["args"] == [j.job_id, j.planned_ns, "noop", [1, "x"]]
    assert s.pending() == 1


def test_pygments_worker_highlights_snippets(workload_factory: Any, redis_url: str,
                                             run_dir: Path, redis_client: redis.Redis) -> None:
    import signal
    import subprocess
    import sys

    from comparisons.sidekiq_clone import connection
    from comparisons.sidekiq_clone.jobs import PygmentsWorker
    from core.procs import die_with_parent, stop_tree

    workload = workload_factory("highlight", store_size=20)
    payloads = workload.payloads(20)
    connection.configure(redis_url)
    PygmentsWorker.push_bulk(payloads)
    proc = subprocess.Popen([sys.executable, "-m", "comparisons.sidekiq_clone", "-r",
                             "comparisons.sidekiq_clone.jobs", "-c", "4", "--redis-url", redis_url],
                            cwd=Path(__file__).resolve().parent.parent, preexec_fn=die_with_parent,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: redis_client.llen("queue:default") == 0, 30, "the queue to drain")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        workload.verify(payloads)
        assert redis_client.zcard("retry") == 0 and redis_client.zcard("dead") == 0
    finally:
        stop_tree([proc.pid], signal.SIGKILL, timeout=5)
        proc.wait()
