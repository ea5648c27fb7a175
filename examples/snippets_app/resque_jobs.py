"""The Resque clone's job class (Resque's `SnippetHighlighter` with `@queue = :snippets_queue`).

A worker runs it only after loading this module:
    python -m comparisons.resque_clone work --queue '*' --require examples.snippets_app.resque_jobs
"""

from __future__ import annotations

from examples.snippets_app.highlighting import highlight


class SnippetHighlighter:
    queue = "snippets_queue"

    @staticmethod
    def perform(snippet_id: int) -> None:
        highlight(snippet_id)
