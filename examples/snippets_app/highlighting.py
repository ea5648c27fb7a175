"""The job's work, shared by every backend: load a snippet, highlight it, save the HTML.

The web app and the workers find the same snippet store through SNIPPETS_DB (default: a file in
the system's temporary directory), as a Rails app and its workers share one database.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from workloads.highlight import render
from workloads.store import SnippetStore

ENV_DB = "SNIPPETS_DB"


def db_path() -> Path:
    return Path(os.environ.get(ENV_DB) or Path(tempfile.gettempdir()) / "queuebench-snippets.sqlite3")


def store() -> SnippetStore:
    return SnippetStore(db_path())


def highlight(snippet_id: int) -> None:
    """Highlight snippet `snippet_id` and save the HTML (what every backend's job calls)."""
    snippets = store()
    try:
        snippet = snippets.get(int(snippet_id))
        snippets.save_html(snippet.id, render(snippet.language, snippet.code))
    finally:
        snippets.close()
