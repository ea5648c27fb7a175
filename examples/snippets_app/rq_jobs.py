"""RQ's job: a plain function, found by its dotted path when the worker runs it.

    rq worker --url "$REDIS_URL" default
"""

from __future__ import annotations

from examples.snippets_app.highlighting import highlight


def highlight_snippet(snippet_id: int) -> None:
    highlight(snippet_id)
