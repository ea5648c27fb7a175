"""Celery's app and task for the snippet app; the broker is the Redis in REDIS_URL.

    celery -A examples.snippets_app.celery_app worker --pool solo --loglevel INFO
"""

from __future__ import annotations

import os

from celery import Celery

from examples.snippets_app.backends import CELERY_TASK
from examples.snippets_app.highlighting import highlight

if not os.environ.get("REDIS_URL"):
    raise RuntimeError("set REDIS_URL to the Redis the snippet app uses (e.g. from `queuebench redis`)")

app = Celery("snippets", broker=os.environ["REDIS_URL"])
app.conf.update(task_ignore_result=True, broker_connection_retry_on_startup=True,
                worker_hijack_root_logger=False)


@app.task(name=CELERY_TASK)
def highlight_snippet(snippet_id: int) -> None:
    highlight(snippet_id)
