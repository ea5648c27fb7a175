"""The retry plugin (the resque-retry idea), opt-in per job class. Core Resque never retries.

    class Deliver(Retry):
        queue = "mail"
        retry_limit = 3
        retry_delay = 10                 # or backoff_strategy = [0, 60, 600] (exponential)
        @staticmethod
        def perform(message_id): ...

It is nothing but three hooks around an ordinary job, plus one Redis counter per job
(`resque-retry:<Class>:<sha1 of args joined by '-'>`, starting at -1):

- before_perform_retry: INCR the counter -> this attempt's number (0 = first try);
- after_perform_retry: success, DEL the counter;
- on_failure_retry: if attempts remain, enqueue the same job again, now (delay 0) or later
  through the delayed schedule (the scheduler must run); else DEL the counter.

While a retry is still planned the failure record is suppressed (resque-retry's
MultipleWithRetrySuppression backend); the last failure lands in the failed list as usual.
"""

from __future__ import annotations

from typing import Any, ClassVar

from comparisons.resque_clone import connection, registry

DEFAULT_BACKOFF = [0, 60, 600, 3600, 10800, 21600]  # resque-retry's ExponentialBackoff


class Retry:
    retry_limit: ClassVar[int] = 1
    retry_delay: ClassVar[float] = 0
    backoff_strategy: ClassVar[list[float] | None] = None
    retry_queue: ClassVar[str | None] = None  # None: the queue the job failed on
    suppress_retried_failures: ClassVar[bool] = True
    _retry_attempt: ClassVar[int] = 0
    _retry_planned: ClassVar[bool] = False

    # -- settings (override to decide per job) ---------------------------------------------

    @classmethod
    def retry_limit_for(cls, *args: Any) -> int:
        if cls.backoff_strategy is not None and "retry_limit" not in cls.__dict__:
            return len(cls.backoff_strategy)
        return cls.retry_limit

    @classmethod
    def retry_delay_for(cls, attempt: int, *args: Any) -> float:
        if cls.backoff_strategy:
            return cls.backoff_strategy[min(attempt, len(cls.backoff_strategy) - 1)]
        return cls.retry_delay

    # -- the counter ------------------------------------------------------------------------

    @classmethod
    def redis_retry_key(cls, *args: Any) -> str:
        return connection.current().keys.retry_counter(registry.class_name(cls), list(args))

    @classmethod
    def retry_attempt(cls, *args: Any) -> int:
        value = connection.current().redis.get(cls.redis_retry_key(*args))
        return int(value) if value is not None else 0

    # -- the hooks --------------------------------------------------------------------------

    @classmethod
    def before_perform_retry(cls, *args: Any) -> None:
        r = connection.current().redis
        key = cls.redis_retry_key(*args)
        r.setnx(key, -1)
        cls._retry_attempt = int(r.incr(key))
        cls._retry_planned = False

    @classmethod
    def after_perform_retry(cls, *args: Any) -> None:
        connection.current().redis.delete(cls.redis_retry_key(*args))

    @classmethod
    def on_failure_retry(cls, exc: BaseException, *args: Any) -> None:
        from comparisons.resque_clone.client import Resque, queue_of

        conn = connection.current()
        attempt = cls.retry_attempt(*args)
        limit = cls.retry_limit_for(*args)
        if limit == -1 or attempt < limit:
            queue = cls.retry_queue or queue_of(cls)
            delay = cls.retry_delay_for(attempt, *args)
            client = Resque(conn)
            if delay <= 0:
                client.enqueue_to(queue, cls, *args)
            else:
                client.enqueue_in_with_queue(queue, delay, cls, *args)
            cls._retry_planned = True
        else:
            conn.redis.delete(cls.redis_retry_key(*args))
            cls._retry_planned = False

    @classmethod
    def failure_suppressed(cls, *args: Any) -> bool:
        return cls.suppress_retried_failures and cls._retry_planned


class ExponentialBackoff(Retry):
    """resque-retry's exponential backoff: 0 s, 1 min, 10 min, 1 h, 3 h, 6 h."""

    backoff_strategy: ClassVar[list[float] | None] = list(DEFAULT_BACKOFF)
