"""Bad input and a dropped connection, the same for the RQ, Celery and Dramatiq adapters: a job for a
queue no worker reads is refused (alone or in a batch, which is then refused whole), and workers
reconnect after Redis drops every client connection. Real workers on the test's Redis."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import redis
from system_helpers import Driven, records, wait_for

# the adapter and its config with a single worker process (no pool child to reconnect)
IN_PROCESS = {"rq": "simple", "celery": "solo", "dramatiq": "one_process"}


@pytest.fixture(params=sorted(IN_PROCESS))
def name(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_a_job_for_a_queue_no_worker_reads_is_refused(drive: Callable[..., Driven], name: str) -> None:
    d = drive(name)
    with pytest.raises(ValueError, match="high, default, low"):
        d.system.enqueue(d.job("noop", queue="urgent"))
    assert d.system.pending() == 0


def test_a_batch_with_one_bad_queue_is_refused_whole(drive: Callable[..., Driven], name: str) -> None:
    d = drive(name)
    batch = [d.job("noop", delay_s=5), d.job("noop"), d.job("noop", queue="urgent")]
    with pytest.raises(ValueError, match="urgent"):
        d.system.enqueue_many(batch)
    assert d.system.pending() == 0 and d.system.registries().scheduled == []


def test_workers_reconnect_when_their_redis_connections_drop(
    drive: Callable[..., Driven], workload_factory: Callable[..., Any], run_dir: Path,
    redis_client: redis.Redis, name: str,
) -> None:
    """Redis closes every client connection (as on a restart or a network cut): RQ's worker, or
    Celery's consumer, reconnects and takes the next job."""
    workload_factory("noop")
    d = drive(name, IN_PROCESS[name])
    group = d.start("noop")
    killed = sum(
        int(redis_client.execute_command("CLIENT", "KILL", "TYPE", kind, "SKIPME", "yes"))
        for kind in ("normal", "pubsub")
    )
    assert killed >= 1, "the workers' connections were not dropped"
    job = d.job("noop")
    d.system.enqueue(job)
    try:
        wait_for(lambda: records(run_dir, job.job_id), 60, "the job after the connections dropped")
    except pytest.fail.Exception:  # say what the workers saw
        tails = "\n".join(f"{p.name}: {p.read_text(errors='replace')[-2000:]}"
                          for p in sorted((run_dir / "logs").glob("*.log")))
        pytest.fail(f"no job ran after the connections dropped; the workers' logs:\n{tails}")
    assert group.processes[0].poll() is None
