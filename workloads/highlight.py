"""highlight: the CPU-bound job. Load a snippet by id, highlight it with pygments (lexer by
language, HtmlFormatter), store the HTML. This is the seed app's job, done in-process.

hold_ms (default 0) keeps the job, and what it allocated, alive that much longer after the
work: the memory scenario's way of making every job last long enough to be sampled."""

from __future__ import annotations

import time
from typing import Any

from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import get_lexer_by_name

from workloads.base import VerificationError, Workload
from workloads.store import SnippetStore


def render(language: str, code: str) -> str:
    return highlight(code, get_lexer_by_name(language), HtmlFormatter())


class Highlight(Workload):
    name = "highlight"
    kind = "cpu"
    description = "pygments-highlight a stored snippet (200 B - 20 KB) and save the HTML"
    defaults = {"store_size": 200, "seed": 1, "hold_ms": 0}

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.store = SnippetStore.in_run_dir(ctx.run_dir)

    def setup(self) -> None:
        self.store.fill(int(self.options["store_size"]), int(self.options["seed"]))

    def payloads(self, n: int) -> list[list[Any]]:
        ids = self.store.ids()
        if not ids:
            raise VerificationError("the snippet store is empty: run setup() first")
        return [[ids[i % len(ids)]] for i in range(n)]

    def perform(self, snippet_id: int) -> None:  # type: ignore[override]
        snippet = self.store.get(snippet_id)
        html = render(snippet.language, snippet.code)
        self.store.save_html(snippet.id, html)
        if self.options["hold_ms"]:
            time.sleep(float(self.options["hold_ms"]) / 1000)

    def verify(self, payloads: list[list[Any]]) -> None:
        missing = self.store.without_html(sorted({p[0] for p in payloads}))
        if missing:
            raise VerificationError(
                f"{len(missing)} snippet(s) were never highlighted, e.g. ids {missing[:10]}"
            )

    def teardown(self) -> None:
        self.store.close()
