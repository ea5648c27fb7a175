"""highlight: the CPU-bound job. Load a snippet by id, highlight it with pygments (lexer by
language, HtmlFormatter), store the HTML. This is the seed app's job, done in-process."""

from __future__ import annotations

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
    defaults = {"store_size": 200, "seed": 1}

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
        self.store.save_html(snippet.id, render(snippet.language, snippet.code))

    def verify(self, payloads: list[list[Any]]) -> None:
        missing = self.store.without_html(sorted({p[0] for p in payloads}))
        if missing:
            raise VerificationError(
                f"{len(missing)} snippet(s) were never highlighted, e.g. ids {missing[:10]}"
            )

    def teardown(self) -> None:
        self.store.close()
