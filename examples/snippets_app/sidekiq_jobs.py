"""The Sidekiq clone's worker class (Sidekiq's `PygmentsWorker`), on the default queue.

A Sidekiq process runs it only after loading this module:
    python -m comparisons.sidekiq_clone -r examples.snippets_app.sidekiq_jobs
"""

from __future__ import annotations

from comparisons.sidekiq_clone.worker import Worker
from examples.snippets_app.highlighting import highlight


class PygmentsWorker(Worker):
    sidekiq_options = {"queue": "default", "retry": 5}

    def perform(self, snippet_id: int) -> None:
        highlight(snippet_id)
