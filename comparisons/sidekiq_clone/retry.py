"""What happens when a job raises: Sidekiq's retry rules, exactly.

- retry: True = up to 25 retries (max_retries), N = N retries, False = none (and no dead entry;
  only the death handlers hear of it).
- The failure is written onto the payload: error_message, error_class, failed_at (first
  failure) or retried_at (later ones), retry_count (0 on the first failure, then +1),
  optionally error_backtrace (base64 of zlib of the JSON list of lines), queue = retry_queue.
- Retry k (k = retry_count) waits k**4 + 15 + rand(10) * (k + 1) seconds, unless the worker's
  sidekiq_retry_in(count, exc, job) returns seconds (then seconds + the same jitter),
  "discard" (drop the job silently) or "kill" (straight to the dead set).
  The job goes to the `retry` ZSET scored by the time it is due; the poller brings it back.
- When retry_count >= max the job is exhausted: sidekiq_retries_exhausted(job, exc) runs,
  then the job goes to the `dead` set (unless dead: False), then the death handlers.

sidekiq_retry_jitter_unit (a Worker class attribute, 1.0 s by default) scales the jitter: tests
scale time down with it; a worker with an exact schedule sets it to 0.
"""

from __future__ import annotations

import base64
import inspect
import json
import logging
import random
import traceback
import zlib
from collections.abc import Callable
from typing import Any

import redis

from comparisons.sidekiq_clone import keys, payload
from comparisons.sidekiq_clone.api import DeadSet

log = logging.getLogger("sidekiq_clone")

DEFAULT_MAX_RETRY_ATTEMPTS = 25

# Called with (job, exc) whenever a job dies: exhausted, killed, or failed with retry: False.
death_handlers: list[Callable[[dict[str, Any], BaseException], Any]] = []


def default_delay(count: int, rng: random.Random | None = None, jitter_unit: float = 1.0) -> float:
    """Sidekiq's backoff before retry `count`: count**4 + 15 + rand(10) * (count + 1)."""
    r = (rng or random).randrange(10)
    return count**4 + 15 + r * (count + 1) * jitter_unit


def delay_for(worker: Any, count: int, exc: BaseException, job: dict[str, Any],
              rng: random.Random | None = None) -> tuple[str, float]:
    """("default", seconds) or ("discard", 0) or ("kill", 0), as Sidekiq 7 decides it."""
    custom: Any = None
    if worker is not None:
        try:
            custom = call_retry_in(worker, count, exc, job)
        except Exception:  # a broken hook falls back to the formula, as in Sidekiq
            log.exception("sidekiq_retry_in of %s failed; using the default formula",
                          type(worker).__name__)
            custom = None
    unit = float(getattr(worker, "sidekiq_retry_jitter_unit", 1.0)) if worker is not None else 1.0
    if custom == "discard":
        return "discard", 0.0
    if custom == "kill":
        return "kill", 0.0
    jitter = (rng or random).randrange(10) * (count + 1) * unit
    if isinstance(custom, (int, float)) and not isinstance(custom, bool) and custom > 0:
        return "default", float(custom) + jitter
    return "default", count**4 + 15 + jitter


def call_retry_in(worker: Any, count: int, exc: BaseException, job: dict[str, Any]) -> Any:
    """Call the hook with (count, exc, job), or (count, exc) if it takes two (Sidekiq 6)."""
    hook = worker.sidekiq_retry_in
    params = inspect.signature(hook).parameters.values()
    takes_job = sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params) >= 3 \
        or any(p.kind == p.VAR_POSITIONAL for p in params)
    return hook(count, exc, job) if takes_job else hook(count, exc)


def compress_backtrace(lines: list[str]) -> str:
    return base64.encodebytes(zlib.compress(json.dumps(lines).encode())).decode()


def decompress_backtrace(text: str) -> list[str]:
    return list(json.loads(zlib.decompress(base64.b64decode(text))))


class JobRetry:
    """Turns a failed execution into a retry, a death, or nothing (retry: False)."""

    def __init__(self, redis_client: redis.Redis, max_retries: int = DEFAULT_MAX_RETRY_ATTEMPTS,
                 rng: random.Random | None = None) -> None:
        self.redis = redis_client
        self.max_retries = max_retries
        self.rng = rng

    def handle(self, worker: Any, jobstr: str, queue: str, exc: BaseException) -> None:
        """Handle one failure. `worker` is None when the job failed before its class could be
        instantiated (e.g. unknown class): the payload's own options decide then."""
        job = keys.loads(jobstr)
        if job.get("retry") is None and worker is not None:
            job["retry"] = type(worker).get_sidekiq_options().get("retry", True)
        retry = job.get("retry")
        if retry is None or retry is False:  # as in Ruby, 0 is a number of retries, not false
            self._death_handlers(job, exc)
            return
        self.attempt_retry(worker, job, queue, exc)

    def attempt_retry(self, worker: Any, job: dict[str, Any], queue: str,
                      exc: BaseException) -> None:
        retry = job["retry"]
        max_attempts = retry if isinstance(retry, int) and not isinstance(retry, bool) \
            else self.max_retries
        job["queue"] = job.get("retry_queue") or queue
        job["error_message"] = str(exc)[:10_000]
        job["error_class"] = type(exc).__name__
        now = keys.now()
        if "retry_count" in job:
            job["retried_at"] = now
            job["retry_count"] = count = int(job["retry_count"]) + 1
        else:
            job["failed_at"] = now
            job["retry_count"] = count = 0
        if job.get("backtrace"):
            lines = traceback.format_exception(exc)
            if job["backtrace"] is not True:
                lines = lines[: int(job["backtrace"])]
            job["error_backtrace"] = compress_backtrace(lines)

        if count < max_attempts:
            strategy, delay = delay_for(worker, count, exc, job, self.rng)
            if strategy == "discard":
                log.info("discarding %.200s %s: sidekiq_retry_in said so", job["class"], job.get("jid"))
                return
            if strategy == "default":
                self.redis.zadd(keys.RETRY, {payload.record(job): keys.now() + delay})
                return
        self.retries_exhausted(worker, job, exc)

    def retries_exhausted(self, worker: Any, job: dict[str, Any], exc: BaseException) -> None:
        if worker is not None:
            try:
                worker.sidekiq_retries_exhausted(job, exc)
            except Exception:
                log.exception("error calling sidekiq_retries_exhausted of %s", job.get("class"))
        if job.get("dead") is not False:
            log.info("adding dead %.200s job %s", job.get("class"), job.get("jid"))
            DeadSet(self.redis).kill(payload.record(job))
        self._death_handlers(job, exc)

    @staticmethod
    def _death_handlers(job: dict[str, Any], exc: BaseException) -> None:
        for handler in death_handlers:
            try:
                handler(job, exc)
            except Exception:
                log.exception("error calling death handler")
