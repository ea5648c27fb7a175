"""Workloads: the contract, the registry (built-ins and entry points), and each job's behaviour."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.errors import UnknownName, VerificationError, WorkloadError
from workloads import corpus, registry
from workloads.flaky import FlakyFailure
from workloads.remote_highlight import RemoteHighlightError
from workloads.store import SnippetStore, UnknownSnippet


def test_every_builtin_workload_is_listed() -> None:
    assert {"highlight", "remote_highlight", "noop", "sleep", "flaky"} <= set(registry.names())


def test_an_unknown_workload_name_lists_the_valid_ones() -> None:
    with pytest.raises(UnknownName) as err:
        registry.get("resize")
    assert "resize" in str(err.value) and "highlight" in str(err.value)


def test_an_unknown_option_is_refused(run_dir: Path) -> None:
    with pytest.raises(WorkloadError, match="no option"):
        registry.create("sleep", run_dir, {"seconds": 1})


def test_the_corpus_is_deterministic_and_spans_sizes_and_languages() -> None:
    a, b = corpus.build(60, seed=7), corpus.build(60, seed=7)
    assert a == b
    assert corpus.build(60, seed=8) != a
    sizes = [len(s.code) for s in a]
    assert min(sizes) < 1_000 and max(sizes) > 5_000 and max(sizes) <= corpus.MAX_BYTES + 2_000
    assert {"python", "c"} <= {s.language for s in a}
    assert len({s.language for s in a}) >= 4


def test_the_snippet_store_uses_wal_in_the_run_dir(run_dir: Path, workload_factory) -> None:
    workload_factory("highlight", store_size=10)
    store = SnippetStore.in_run_dir(run_dir)
    assert store.path.parent == run_dir
    assert store.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert len(store.ids()) == 10


def test_highlight_stores_pygments_html_and_verify_passes(run_dir: Path, workload_factory) -> None:
    workload = workload_factory("highlight", store_size=12)
    payloads = workload.payloads(12)
    with pytest.raises(VerificationError, match="never highlighted"):
        workload.verify(payloads)
    for args in payloads:
        workload.perform(*args)
    workload.verify(payloads)
    snippet = SnippetStore.in_run_dir(run_dir).get(payloads[0][0])
    assert snippet.html and snippet.html.startswith('<div class="highlight"><pre>')


def test_an_unknown_snippet_id_names_the_id(workload_factory) -> None:
    workload = workload_factory("highlight", store_size=3)
    with pytest.raises(UnknownSnippet, match="snippet id 999"):
        workload.perform(999)


def test_payloads_are_plain_json_ids(workload_factory) -> None:
    import json

    payloads = workload_factory("highlight", store_size=5).payloads(8)
    assert json.loads(json.dumps(payloads)) == payloads
    assert all(isinstance(p[0], int) for p in payloads)


def test_remote_highlight_goes_through_a_real_http_service(run_dir: Path, workload_factory) -> None:
    workload = workload_factory("remote_highlight", store_size=4, latency_ms=5)
    payloads = workload.payloads(4)
    for args in payloads:
        workload.perform(*args)
    workload.verify(payloads)
    assert workload.service.url.startswith("http://127.0.0.1:")


def test_remote_highlight_failures_raise_for_the_retry_policy(workload_factory) -> None:
    workload = workload_factory("remote_highlight", store_size=2, latency_ms=0, failure_rate=1.0)
    with pytest.raises(RemoteHighlightError, match="503"):
        workload.perform(1)


def test_the_service_rejects_bad_requests(workload_factory) -> None:
    import urllib.error
    import urllib.request

    workload = workload_factory("remote_highlight", store_size=1, latency_ms=0)
    req = urllib.request.Request(f"{workload.service.url}/highlight", data=b"not json")
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req, timeout=5)
    assert err.value.code == 400


def test_flaky_fails_the_first_k_attempts_then_succeeds(workload_factory) -> None:
    workload = workload_factory("flaky", fail_first=2)
    for attempt in (1, 2):
        with pytest.raises(FlakyFailure, match=f"attempt {attempt}"):
            workload.perform("job-a")
    workload.perform("job-a")
    workload.verify([["job-a"]])
    with pytest.raises(VerificationError):
        workload.verify([["job-b"]])


def test_flaky_attempts_are_shared_across_processes(run_dir: Path, workload_factory) -> None:
    workload_factory("flaky", fail_first=1)
    code = (
        "from workloads import registry\n"
        "try:\n    registry.for_worker('flaky').perform('k')\nexcept Exception as e:\n    print(e)\n"
    )
    env = {**os.environ, "QUEUEBENCH_RUN_DIR": str(run_dir)}
    first = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    second = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert "attempt 1" in first.stdout
    assert second.stdout == ""


def test_flaky_with_probability_is_seeded(workload_factory) -> None:
    workload = workload_factory("flaky", p=0.5, seed=3)
    outcomes = []
    for key in [f"k{i}" for i in range(40)]:
        try:
            workload.perform(key)
            outcomes.append(True)
        except FlakyFailure:
            outcomes.append(False)
    assert 5 < sum(outcomes) < 35


def test_sleep_rejects_a_negative_duration(workload_factory) -> None:
    with pytest.raises(WorkloadError, match="non-negative"):
        workload_factory("sleep").perform(-1)


def _plugin_site(tmp_path: Path) -> Path:
    site = tmp_path / "site"
    (site / "resize_plugin-1.0.dist-info").mkdir(parents=True)
    (site / "resize_plugin.py").write_text(
        textwrap.dedent(
            """
            from workloads.base import Workload

            class Resize(Workload):
                name = "resize"
                kind = "cpu"
                description = "a plug-in workload from another package"

                def perform(self, size):
                    return None
            """
        )
    )
    info = site / "resize_plugin-1.0.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: resize-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[queuebench.workloads]\nresize = resize_plugin:Resize\n")
    return site


def test_another_package_adds_a_workload_through_the_entry_point_group(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, run_dir: Path
) -> None:
    site = _plugin_site(tmp_path)
    monkeypatch.syspath_prepend(str(site))
    assert "resize" in registry.names()
    workload = registry.create("resize", run_dir)
    assert workload.kind == "cpu"
    result = subprocess.run(
        [sys.executable, "-m", "harness", "list"],
        env={**os.environ, "PYTHONPATH": str(site), "COLUMNS": "200"},
        capture_output=True, text=True, check=True,
    )
    assert "resize" in result.stdout and "a plug-in workload" in result.stdout
