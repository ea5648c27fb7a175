"""The module `dramatiq comparisons.dramatiq_adapter.actors` imports: the broker and one actor.

The actor `queuebench_run(job_id, planned_ns, workload, args)` hands the job to the probe with the
attempt number Dramatiq keeps in the message (options["retries"], the retries so far, + 1).

The broker comes from the environment the adapter sets: QUEUEBENCH_DRAMATIQ_BROKER (a redis:// or
amqp:// URL; required, there is no silent default: Dramatiq's own would be a Redis on localhost).

Retries are Dramatiq's Retries middleware, configured per message by the adapter: max_retries,
min_backoff / max_backoff (its exponential backoff with jitter). A fixed delay has no such
option, so a message may carry `fixed_delay_ms`: the actor then raises dramatiq.Retry(delay=...)
from the job's exception, which the same middleware honours (counting it against max_retries).
"""

from __future__ import annotations

import os
from typing import Any

import dramatiq
from dramatiq.middleware import CurrentMessage

from comparisons.dramatiq_adapter.wire import (
    ACTOR_NAME,
    ENV_BROKER,
    ENV_PREFIX,
    FIXED_DELAY_OPTION,
    SYSTEM,
    make_broker,
)
from workloads import registry


def attempt_of(message: Any) -> int | None:
    """1 for the first run, 2 for the first retry, ... (None outside a worker)."""
    if message is None:
        return None
    return int(message.options.get("retries", 0)) + 1


def run(job_id: str, planned_ns: int, workload: str, args: list[Any]) -> None:
    message = CurrentMessage.get_current_message()
    try:
        registry.run_job(SYSTEM, job_id, planned_ns, workload, args, attempt=attempt_of(message))
    except Exception as exc:
        fixed = message.options.get(FIXED_DELAY_OPTION) if message is not None else None
        if fixed is None:
            raise
        raise dramatiq.Retry(str(exc), delay=int(fixed)) from exc


_url = os.environ.get(ENV_BROKER)
if not _url:
    raise RuntimeError(
        f"{ENV_BROKER} is not set: start Dramatiq workers through the queuebench dramatiq "
        "adapter, or set it to a broker URL (e.g. the URL `queuebench redis` prints)"
    )
broker = make_broker(_url, os.environ.get(ENV_PREFIX, ""))
dramatiq.set_broker(broker)
queuebench_run = dramatiq.actor(actor_name=ACTOR_NAME, queue_name=os.environ.get(ENV_PREFIX, "") + "default",
                                max_retries=0)(run)
