"""Pushing jobs: normalise the job hash, run client middleware, write it to Redis atomically.

An immediate job is `SADD queues <q>` + `LPUSH queue:<q> <json>` in one MULTI; a bulk push is
one LPUSH of many payloads; a job with a future "at" is `ZADD schedule <at> <json>` and the
scheduled poller moves it to its queue when due. Arguments must be native JSON (str, int,
float, bool, None, lists, dicts with string keys): pass ids, not objects, so that a job means
the same thing in Python and in Ruby and survives the round trip unchanged.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import redis

from comparisons.sidekiq_clone import connection, keys
from comparisons.sidekiq_clone.middleware import Chain, client_middleware
from comparisons.sidekiq_clone.worker import DEFAULT_OPTIONS, Worker, class_name


class InvalidJob(ValueError):
    """The job hash cannot be pushed (bad class, args not a list, arguments not JSON)."""


def json_unsafe(value: Any, path: str = "args") -> str | None:
    """Where `value` stops being native JSON, or None when it is JSON all the way down."""
    if value is None or isinstance(value, (str, bool, int)):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path} = {value!r} (not a finite number)"
    if isinstance(value, list):
        for i, v in enumerate(value):
            bad = json_unsafe(v, f"{path}[{i}]")
            if bad:
                return bad
        return None
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                return f"{path} has a non-string key {k!r}"
            bad = json_unsafe(v, f"{path}[{k!r}]")
            if bad:
                return bad
        return None
    return f"{path} is a {type(value).__name__}"


class Client:
    """Push jobs to one Redis (the process default unless given)."""

    def __init__(self, redis_client: redis.Redis | None = None,
                 middleware: Chain | None = None) -> None:
        self.redis = redis_client if redis_client is not None else connection.client()
        self.middleware = middleware if middleware is not None else client_middleware

    # -- public ----------------------------------------------------------------------------

    def push(self, item: dict[str, Any]) -> str | None:
        """Push one job; returns its jid, or None if a client middleware stopped it."""
        job = self._through_middleware(item.get("class"), self.normalize(item))
        if job is None:
            return None
        self._raw_push([job])
        return str(job["jid"])

    def push_many(self, items: list[dict[str, Any]]) -> list[str]:
        """Push jobs of any classes and queues in one MULTI (the harness's bulk path)."""
        jobs = [self._through_middleware(i.get("class"), self.normalize(i)) for i in items]
        kept = [j for j in jobs if j is not None]
        self._raw_push(kept)
        return [str(j["jid"]) for j in kept]

    def push_bulk(self, item: dict[str, Any]) -> list[str]:
        """Push many jobs of one class: item["args"] is a list of argument lists; "at" may be
        one time or one per job. One round trip for the lot."""
        args_list = item.get("args")
        if not isinstance(args_list, list) or not all(isinstance(a, list) for a in args_list):
            raise InvalidJob("push_bulk needs 'args' as a list of argument lists, e.g. [[1], [2]]")
        at = item.get("at")
        if isinstance(at, list) and len(at) != len(args_list):
            raise InvalidJob("push_bulk: 'at' must be one time or one per job")
        base = {k: v for k, v in item.items() if k not in ("args", "at", "jid")}
        jobs = []
        for i, args in enumerate(args_list):
            one = {**base, "args": args}
            if at is not None:
                one["at"] = at[i] if isinstance(at, list) else at
            job = self._through_middleware(item.get("class"), self.normalize(one))
            if job is not None:
                jobs.append(job)
        self._raw_push(jobs)
        return [str(j["jid"]) for j in jobs]

    # -- normalisation ---------------------------------------------------------------------

    def normalize(self, item: dict[str, Any]) -> dict[str, Any]:
        """The job hash as Sidekiq writes it: class name, args, retry, queue, jid, created_at
        (and "at" while scheduled), the worker's sidekiq_options under the per-push ones."""
        klass = item.get("class")
        if isinstance(klass, type) and issubclass(klass, Worker):
            defaults = klass.get_sidekiq_options()
        elif isinstance(klass, str) and klass:
            defaults = dict(DEFAULT_OPTIONS)
        else:
            raise InvalidJob(f"job 'class' must be a Worker subclass or a class name, not {klass!r}")
        args = item.get("args")
        if not isinstance(args, list):
            raise InvalidJob(f"job 'args' must be a list, not {type(args).__name__}: {args!r}")
        bad = json_unsafe(args)
        if bad:
            raise InvalidJob(
                f"arguments to {class_name(klass)} must be native JSON types (str, int, float, "
                f"bool, None, list, dict with str keys); {bad}. Pass ids, not objects."
            )
        options = {**defaults, **{k: v for k, v in item.items() if k not in ("class", "args")}}
        queue_name = str(options.pop("queue", "default") or "default")
        retry = options.pop("retry", True)
        job = keys.job(class_name(klass), copy.deepcopy(args), queue_name, retry,
                       jid=options.pop("jid", None), created_at=options.pop("created_at", None))
        at = options.pop("at", None)
        job.update(options)
        if at is not None:
            at = float(at)
            if at > keys.now():
                job["at"] = at
        return job

    def _through_middleware(self, klass: Any, job: dict[str, Any]) -> dict[str, Any] | None:
        if not self.middleware:
            return job
        result: list[dict[str, Any]] = []
        self.middleware.invoke(klass, job, job["queue"], self.redis,
                               final=lambda: result.append(job))
        return result[0] if result else None

    # -- the write -------------------------------------------------------------------------

    def _raw_push(self, jobs: list[dict[str, Any]]) -> None:
        if not jobs:
            return
        now = keys.now()
        with self.redis.pipeline(transaction=True) as pipe:
            by_queue: dict[str, list[str]] = {}
            for job in jobs:
                if "at" in job:  # scheduled: the member is the job without "at"
                    at = job.pop("at")
                    pipe.zadd(keys.SCHEDULE, {keys.dumps(job): at})
                else:
                    job["enqueued_at"] = now
                    by_queue.setdefault(job["queue"], []).append(keys.dumps(job))
            for queue_name, payloads in by_queue.items():
                pipe.sadd(keys.QUEUES, queue_name)
                pipe.lpush(keys.queue(queue_name), *payloads)
            pipe.execute()


def push(item: dict[str, Any]) -> str | None:
    """Sidekiq::Client.push: push one job hash with the process's Redis."""
    return Client().push(item)


def push_bulk(item: dict[str, Any]) -> list[str]:
    return Client().push_bulk(item)
