"""The Celery app: `celery -A comparisons.celery_adapter.app worker`.

One task, `queuebench.run(job_id, planned_ns, workload, args, retry=None)`, hands the job to the
probe. Celery messages carry no enqueue time, so the planned time travels in the arguments like
every other system's. Results are ignored (no result backend): the probe records what happened.

Retries are Celery's autoretry_for: any exception makes the worker re-send the task with a
countdown, until max_retries. Celery sets these per task; here each job brings its own policy
(the contract's RetryPolicy, in the `retry` keyword), so the task's max_retries and
default_retry_delay read it from the request being run. The delays follow Celery's retry_backoff
(factor * 2**retries, capped at retry_backoff_max, no jitter); "native" is Celery's own
`retry_backoff=True` schedule, jitter included.

The worker learns its broker and options from the environment the adapter sets:
QUEUEBENCH_CELERY_BROKER (a broker URL; required, there is no silent default) and
QUEUEBENCH_CELERY_OPTIONS (JSON: acks_late, reject_on_worker_lost, prefetch_multiplier, and on
Redis visibility_timeout with restore_interval, the period of the unacked-restore sweep).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from celery import Celery, Task
from celery.signals import worker_ready
from celery.utils.time import get_exponential_backoff_interval

from core import probe
from workloads import registry

SYSTEM = "celery"
TASK_NAME = "queuebench.run"
ENV_BROKER = "QUEUEBENCH_CELERY_BROKER"
ENV_OPTIONS = "QUEUEBENCH_CELERY_OPTIONS"
RETRY_BACKOFF_MAX = 600  # Celery's default retry_backoff_max, in seconds
READY_DIR = "celery-ready"


class ProbeTask(Task):
    """autoretry_for every exception, with the job's own retry policy."""

    autoretry_for = (Exception,)
    retry_backoff = False  # the countdown comes from default_retry_delay below
    retry_backoff_max = RETRY_BACKOFF_MAX
    retry_jitter = False

    def _policy(self) -> dict[str, Any] | None:
        return (self.request.kwargs or {}).get("retry")

    @property  # type: ignore[override]
    def max_retries(self) -> int:
        policy = self._policy()
        return int(policy["max_retries"]) if policy else 0

    @property  # type: ignore[override]
    def default_retry_delay(self) -> float:
        policy = self._policy() or {}
        retries = self.request.retries or 0
        if policy.get("backoff") == "native":
            return get_exponential_backoff_interval(1, retries, RETRY_BACKOFF_MAX, full_jitter=True)
        delay = float(policy.get("delay_s", 0.0))
        if policy.get("backoff") == "exponential":
            delay *= 2**retries
        return min(float(RETRY_BACKOFF_MAX), delay)


def make_app(broker_url: str, options: dict[str, Any] | None = None) -> Celery:
    """A Celery app on `broker_url` with the queuebench task registered."""
    options = options or {}
    app = Celery("queuebench", broker=broker_url, task_cls=ProbeTask)
    app.conf.update(
        task_ignore_result=True,
        task_default_queue="default",
        task_acks_late=bool(options.get("acks_late", False)),
        task_reject_on_worker_lost=bool(options.get("reject_on_worker_lost", False)),
        worker_prefetch_multiplier=int(options.get("prefetch_multiplier", 4)),
        broker_connection_retry_on_startup=True,
        worker_hijack_root_logger=True,
    )
    if options.get("visibility_timeout") is not None:
        interval = int(options.get("restore_interval") or 10)
        app.conf.broker_transport_options = {
            "visibility_timeout": float(options["visibility_timeout"]),
            "unacked_restore_interval": interval,
            "unacked_restore_throttle": 1,  # sweep every `interval` s, not every 10th time
        }

    @app.task(name=TASK_NAME, bind=True, shared=False)
    def run(self: Task, job_id: str, planned_ns: int, workload: str, args: list[Any],
            retry: dict[str, Any] | None = None) -> None:
        registry.run_job(SYSTEM, job_id, planned_ns, workload, args, attempt=self.request.retries + 1)

    return app


def app_from_environment() -> Celery:
    broker = os.environ.get(ENV_BROKER)
    if not broker:
        raise RuntimeError(
            f"{ENV_BROKER} is not set: start Celery workers through the queuebench celery "
            "adapter, or set it to a broker URL (e.g. the URL `queuebench redis` prints)"
        )
    return make_app(broker, json.loads(os.environ.get(ENV_OPTIONS) or "{}"))


@worker_ready.connect
def _mark_ready(sender: Any = None, **_: Any) -> None:
    """Tell the adapter this worker consumes now: a file named by the worker's pid."""
    run_dir = os.environ.get(probe.ENV_RUN_DIR)
    if run_dir:
        directory = Path(run_dir) / READY_DIR
        directory.mkdir(parents=True, exist_ok=True)
        (directory / str(os.getpid())).touch()


_app: Celery | None = None


def __getattr__(name: str) -> Any:
    """`app`, the app `celery -A` loads, built from the environment on first use (so the adapter
    can import this module without a broker set, and a worker without one says so)."""
    global _app
    if name == "app":
        if _app is None:
            _app = app_from_environment()
        return _app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
