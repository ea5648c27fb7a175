"""Round-trip time: `queuebench run --rtt`, the rtt scenario on real workers, and its report
section, whose explanation is computed from the measured counts (fixture: results-rtt)."""

from __future__ import annotations

import copy
import json
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from test_harness_runner import TINY, tiny

from core import results
from harness import runner
from harness.cli import main
from reports import rtt as rtt_report
from reports.run import load

FIXTURE = Path(__file__).parent / "fixtures" / "results-rtt"
ROOT = Path(__file__).parent.parent


def _run_with(tmp_path: Path, data: dict[str, Any]) -> Any:
    target = tmp_path / "run"
    target.mkdir(exist_ok=True)
    (target / "results.json").write_text(json.dumps(data))
    return load(target)


@pytest.fixture
def fixture_data() -> dict[str, Any]:
    return json.loads((FIXTURE / "results.json").read_text())


# ---------------------------------------------------------------------------------------------
# the explanation follows the data


def test_explanation_quotes_each_systems_measured_round_trips(tmp_path: Path,
                                                                fixture_data: dict) -> None:
    text = " ".join(rtt_report.explain(_run_with(tmp_path, fixture_data)))
    assert "RQ makes 34.0 round trips to Redis per job on the worker side" in text
    assert "Sidekiq 6.4.1 makes 1.1 round trips" in text
    assert "At 1 ms that is 34.0 ms per job per process before any work" in text
    assert "RQ makes 31× the round trips of Sidekiq 6.4.1 per job" in text


def test_explanation_changes_when_the_counts_change(tmp_path: Path, fixture_data: dict) -> None:
    before = rtt_report.explain(_run_with(tmp_path, fixture_data))
    changed = copy.deepcopy(fixture_data)
    for cell in changed["cells"]:
        if cell["system"] == "rq":
            cell["metrics"]["worker"]["round_trips_per_job"] = 4.0
    after = rtt_report.explain(_run_with(tmp_path, changed))
    assert after != before
    text = " ".join(after)
    assert "RQ makes 4.0 round trips" in text and "4.0 ms per job per process" in text
    assert "RQ makes 31×" not in text


def test_a_drain_that_did_not_fall_is_not_called_a_fall(tmp_path: Path, fixture_data: dict) -> None:
    changed = copy.deepcopy(fixture_data)
    for cell in changed["cells"]:
        if cell["system"] == "celery" and cell["params"]["rtt_ms"] == 1.0:
            cell["metrics"]["per_unit_per_s"] = 300.0
    text = " ".join(rtt_report.explain(_run_with(tmp_path, changed)))
    assert "its no-op drain did not fall (226 jobs/s, then 300 jobs/s per slot)" in text
    assert "Celery" in text and "went from 226 jobs/s" not in text


def test_the_table_has_a_row_per_system_and_rtt(tmp_path: Path, fixture_data: dict) -> None:
    table = rtt_report.table(_run_with(tmp_path, fixture_data))
    assert table is not None
    assert {(r[0], r[1]) for r in table.rows} >= {("RQ", "0 ms"), ("RQ", "1 ms"),
                                                  ("Sidekiq clone", "1 ms")}


def test_the_report_has_the_section_and_the_rtt_badge(tmp_path: Path, fixture_data: dict) -> None:
    import reports

    data = copy.deepcopy(fixture_data)
    data["metadata"].update(rtt_ms=1.0, rtt_added_ms=1.21)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "results.json").write_text(json.dumps(data))
    page = reports.build(run_dir, tmp_path / "out").read_text()
    assert 'id="rtt"' in page and "round trips to Redis per job" in page
    assert "RTT 1 ms to Redis (measured 1.21 ms)" in page


# ---------------------------------------------------------------------------------------------
# the scenario on real workers


@pytest.mark.slow
def test_the_rtt_scenario_counts_round_trips_for_two_systems(tmp_path: Path, redis_url: str) -> None:
    from core import registry

    sizes = {"rtt": {"rtt_ms": [0.0, 1.0], "n": 20, "count_n": 8, "warmup": 2, "idle_jobs": 2,
                     "idle_s": 0.2}}
    opts = runner.RunOptions(profile=TINY, scenario_decls=tiny(**sizes), scenarios=["rtt"],
                             systems=["sidekiq_clone", "resque_clone"],
                             system_classes={n: registry.system(n)
                                             for n in ("sidekiq_clone", "resque_clone")},
                             out=tmp_path, redis_url=redis_url, build_report=False)
    run, _ = runner.execute(opts)
    cells = {(c.system, c.params["rtt_ms"]): c for c in run.cells}
    assert all(c.status == "ok" for c in cells.values()), [c.reason for c in cells.values()]
    for system in ("sidekiq_clone", "resque_clone"):
        far = cells[(system, 1.0)].metrics
        assert 1.0 <= far["rtt_added_ms"] <= 2.0
        assert far["producer"]["round_trips_per_job"] >= 1
    # blocking fetch: one BRPOP per job; the polling Resque clone sends more per job
    assert cells[("sidekiq_clone", 1.0)].metrics["worker"]["commands"].get("brpop", 0) >= 0.9
    assert cells[("resque_clone", 1.0)].metrics["worker"]["commands_per_job"] > \
        cells[("sidekiq_clone", 1.0)].metrics["worker"]["commands_per_job"]
    assert cells[("resque_clone", 1.0)].params["poll_interval_s"] == 0.1


# ---------------------------------------------------------------------------------------------
# queuebench run --rtt


def test_a_negative_rtt_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--profile", "quick", "--scenarios", "floor", "--rtt", "-1",
                 "--out", str(tmp_path), "--no-report"]) == 2
    assert "--rtt must be between 0 and 1000 ms (got -1)" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_rtt_with_a_unix_socket_url_is_refused_before_anything_is_written(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", "--profile", "quick", "--scenarios", "floor", "--rtt", "1",
                 "--redis-url", "unix:///tmp/no.sock", "--out", str(tmp_path), "--no-report"]) == 2
    assert "a redis:// URL is needed, not unix://" in " ".join(capsys.readouterr().out.split())
    assert list(tmp_path.iterdir()) == []


def test_a_run_with_rtt_puts_the_floor_behind_the_proxy(tmp_path: Path, redis_url: str) -> None:
    sizes = {"floor": {"hop_n": 30, "hop_rate": 100.0, "drain_n": 200, "warmup": 3,
                       "connections": [1]}}
    opts = runner.RunOptions(profile=TINY, system_classes={}, scenario_decls=tiny(**sizes),
                             scenarios=["floor"], out=tmp_path, redis_url=redis_url,
                             build_report=False, rtt_ms=1.0)
    run, path = runner.execute(opts)
    assert run.metadata["rtt_ms"] == 1.0 and 1.0 <= run.metadata["rtt_added_ms"] <= 2.0
    assert results.read(path)["metadata"]["rtt_added_ms"] == run.metadata["rtt_added_ms"]
    hop = run.cells[0].metrics["hop_from_push_us"]["p50"]
    assert hop >= 1000, hop  # LPUSH -> BRPOP now crosses the 1 ms round trip


def _proxies_under(pid: int) -> list[psutil.Process]:
    out = []
    for proc in psutil.process_iter(["cmdline"]):
        if "core.rtt_proxy" in " ".join(proc.info["cmdline"] or []):
            try:
                if proc.ppid() == pid:
                    out.append(proc)
            except psutil.NoSuchProcess:
                pass
    return out


def test_ctrl_c_during_a_run_with_rtt_leaves_no_proxy(tmp_path: Path, redis_url: str) -> None:
    argv = [sys.executable, "-m", "harness.cli", "run", "--profile", "quick", "--scenarios",
            "floor", "--systems", "resque_clone", "--rtt", "1", "--redis-url", redis_url,
            "--out", str(tmp_path),
            "--no-report"]
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        proxies: list[psutil.Process] = []
        while time.monotonic() < deadline and not proxies:
            proxies = _proxies_under(proc.pid)
            time.sleep(0.1)
        assert proxies, "the run never started its proxy"
        time.sleep(1.0)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    gone, alive = psutil.wait_procs(proxies, timeout=5)
    assert not alive
