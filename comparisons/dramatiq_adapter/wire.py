"""What the adapter and the workers share: the names on the wire and the broker they both build.

make_broker(url) is Dramatiq's RedisBroker (redis://) or RabbitmqBroker (amqp://, needs pika)
with Dramatiq's default middleware plus CurrentMessage (the actor reads its own message for the
attempt number), WorkerDiesWithParent and ReadyFile, and the three queues declared (each with
its delay queue, `<queue>.DQ`; on a shared RabbitMQ with a per-instance prefix).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage, Middleware

from core import procs
from core.probe import ENV_RUN_DIR

SYSTEM = "dramatiq"
ACTOR_NAME = "queuebench_run"
ENV_BROKER = "QUEUEBENCH_DRAMATIQ_BROKER"
QUEUES = ("high", "default", "low")
FIXED_DELAY_OPTION = "fixed_delay_ms"  # message option: retry after exactly this delay
ENV_PREFIX = "QUEUEBENCH_DRAMATIQ_PREFIX"  # queue-name prefix (per instance, on a shared RabbitMQ)
READY_DIR = "dramatiq-ready"


def queue_names(prefix: str = "") -> dict[str, str]:
    """The contract's queue name -> the Dramatiq queue it is sent to."""
    return {name: prefix + name for name in QUEUES}


class WorkerDiesWithParent(Middleware):
    """`dramatiq` forks its worker processes from a main process; if that main process is
    SIGKILLed (the crash of the unit, as an OOM killer would), its workers would keep running as
    orphans. Each worker asks the kernel to kill it with its parent, as a supervisor's cgroup
    would."""

    def after_process_boot(self, broker: dramatiq.Broker) -> None:
        procs.die_with_parent(signal.SIGKILL)


class ReadyFile(Middleware):
    """Tell the adapter a worker process consumes now: a file named by its pid in the run
    directory, written once its consumers and worker threads run."""

    def after_worker_boot(self, broker: dramatiq.Broker, worker: Any) -> None:
        run_dir = os.environ.get(ENV_RUN_DIR)
        if run_dir:
            directory = Path(run_dir) / READY_DIR
            directory.mkdir(parents=True, exist_ok=True)
            (directory / str(os.getpid())).touch()


def make_broker(url: str, prefix: str = "") -> dramatiq.Broker:
    """A Dramatiq broker on `url` (redis:// or amqp://) with the queues declared."""
    broker: dramatiq.Broker
    if url.startswith("amqp"):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        broker = RabbitmqBroker(url=url)
    else:
        from dramatiq.brokers.redis import RedisBroker

        broker = RedisBroker(url=url)
    broker.add_middleware(CurrentMessage())
    broker.add_middleware(WorkerDiesWithParent())
    broker.add_middleware(ReadyFile())
    for queue in queue_names(prefix).values():
        broker.declare_queue(queue)
    return broker
