"""How the app enqueues "highlight snippet N" on each backend, in that library's own words.

    resque_clone   Resque#enqueue(SnippetHighlighter, id)    (enqueue_in with a delay)
    sidekiq_clone  PygmentsWorker.perform_async(id)          (perform_in with a delay)
    rq             Queue("default").enqueue("...rq_jobs.highlight_snippet", id)   (enqueue_in)
    celery         Celery.send_task("snippets.highlight", [id])   (countdown)

The app needs only the job's name for RQ and Celery (the worker imports the code); the clones
are given the job class, as a Rails app passes its class to Resque.enqueue / perform_async.
Each backend's client library is imported only when that backend is chosen.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

NAMES = ("resque_clone", "sidekiq_clone", "rq", "celery")
CELERY_TASK = "snippets.highlight"
RQ_FUNCTION = "examples.snippets_app.rq_jobs.highlight_snippet"


@dataclass(frozen=True)
class Backend:
    name: str
    title: str
    enqueue: Callable[[int, float], str]  # (snippet id, delay s) -> a description of the job
    dashboard: str | None  # the mounted dashboard's path, if any
    worker_command: str  # how to start a worker that knows the job


def make(name: str, redis_url: str) -> Backend:
    if name not in NAMES:
        raise ValueError(f"unknown backend {name!r}; choose one of {', '.join(NAMES)}")
    return {"resque_clone": _resque, "sidekiq_clone": _sidekiq, "rq": _rq, "celery": _celery}[name](redis_url)


def _resque(redis_url: str) -> Backend:
    from comparisons.resque_clone import Resque
    from examples.snippets_app.resque_jobs import SnippetHighlighter

    resque = Resque(redis_url)

    def enqueue(snippet_id: int, delay: float) -> str:
        if delay > 0:
            resque.enqueue_in(delay, SnippetHighlighter, snippet_id)
            return f"SnippetHighlighter({snippet_id}) scheduled in {delay:g} s"
        resque.enqueue(SnippetHighlighter, snippet_id)
        return f"SnippetHighlighter({snippet_id}) on queue {SnippetHighlighter.queue}"

    return Backend("resque_clone", "Resque clone", enqueue, "/resque",
                   "python -m comparisons.resque_clone work --queue '*' "
                   "--require examples.snippets_app.resque_jobs")


def _sidekiq(redis_url: str) -> Backend:
    import redis

    from comparisons.sidekiq_clone.client import Client
    from examples.snippets_app.sidekiq_jobs import PygmentsWorker

    client = Client(redis.Redis.from_url(redis_url))

    def enqueue(snippet_id: int, delay: float) -> str:
        item = {"class": PygmentsWorker, "args": [snippet_id]}
        if delay > 0:
            item["at"] = time.time() + delay  # perform_in(delay, id)
        jid = client.push(item)
        when = f"in {delay:g} s" if delay > 0 else "now"
        return f"PygmentsWorker({snippet_id}) jid {jid}, {when}"

    return Backend("sidekiq_clone", "Sidekiq clone", enqueue, "/sidekiq",
                   "python -m comparisons.sidekiq_clone -r examples.snippets_app.sidekiq_jobs")


def _rq(redis_url: str) -> Backend:
    from datetime import timedelta

    import redis
    from rq import Queue

    queue = Queue("default", connection=redis.Redis.from_url(redis_url))

    def enqueue(snippet_id: int, delay: float) -> str:
        if delay > 0:
            job = queue.enqueue_in(timedelta(seconds=delay), RQ_FUNCTION, snippet_id)
        else:
            job = queue.enqueue(RQ_FUNCTION, snippet_id)
        return f"rq job {job.id}"

    return Backend("rq", "RQ", enqueue, None, 'rq worker --url "$REDIS_URL" --with-scheduler default')


def _celery(redis_url: str) -> Backend:
    from celery import Celery

    app = Celery("snippets-web", broker=redis_url)
    app.conf.update(broker_connection_retry_on_startup=True, task_ignore_result=True)

    def enqueue(snippet_id: int, delay: float) -> str:
        result = app.send_task(CELERY_TASK, args=[snippet_id], countdown=delay or None)
        return f"celery task {result.id}"

    return Backend("celery", "Celery", enqueue, None,
                   "celery -A examples.snippets_app.celery_app worker --pool solo")
