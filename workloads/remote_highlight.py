"""remote_highlight: the I/O-bound job, the seed's "external highlighting service".

setup() starts a real HTTP service on loopback (workloads/highlight_service.py) with added
latency (default 50 ms) and an optional failure rate, and writes its URL into the run directory.
The job loads the snippet, POSTs the code to the service, and stores the HTML it gets back; a
503 from the service raises RemoteHighlightError so the queue's retry policy can act.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from workloads.base import WorkloadError
from workloads.highlight import Highlight
from workloads.highlight_service import ServiceProcess

STATE = "remote_highlight.json"


class RemoteHighlightError(WorkloadError):
    """The highlighting service failed or could not be reached."""


class RemoteHighlight(Highlight):
    name = "remote_highlight"
    kind = "io"
    description = "POST the snippet to a local highlighting service (50 ms added latency) and save the HTML"
    defaults = {**Highlight.defaults, "latency_ms": 50, "failure_rate": 0.0, "timeout_s": 10}

    def __init__(self, ctx: Any) -> None:
        super().__init__(ctx)
        self.service: ServiceProcess | None = None
        self._url: str | None = None

    def setup(self) -> None:
        super().setup()
        self.service = ServiceProcess(
            self.options["latency_ms"], self.options["failure_rate"], self.options["seed"]
        ).start()
        (Path(self.ctx.run_dir) / STATE).write_text(json.dumps({"url": self.service.url}))

    def teardown(self) -> None:
        if self.service:
            self.service.stop()
        super().teardown()

    @property
    def url(self) -> str:
        if self._url is None:
            path = Path(self.ctx.run_dir) / STATE
            if not path.exists():
                raise RemoteHighlightError(f"no highlighting service: {path} missing (setup() not run)")
            self._url = json.loads(path.read_text())["url"]
        return self._url

    def perform(self, snippet_id: int) -> None:  # type: ignore[override]
        snippet = self.store.get(snippet_id)
        body = json.dumps({"language": snippet.language, "code": snippet.code}).encode()
        request = urllib.request.Request(
            f"{self.url}/highlight", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=float(self.options["timeout_s"])) as resp:
                html = json.loads(resp.read())["html"]
        except urllib.error.HTTPError as exc:
            raise RemoteHighlightError(
                f"highlighting service answered {exc.code} for snippet {snippet_id}"
            ) from exc
        except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
            raise RemoteHighlightError(f"highlighting service unreachable: {exc}") from exc
        self.store.save_html(snippet.id, html)
