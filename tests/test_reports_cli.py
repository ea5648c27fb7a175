"""`queuebench report` and `queuebench compare`, run as a user runs them (a real subprocess)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

FIXTURE = Path(__file__).parent / "fixtures" / "results-small"


def queuebench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def test_report_builds_the_page_and_prints_its_path(tmp_path: Path) -> None:
    done = queuebench("report", str(FIXTURE), "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = tmp_path / "out" / "20261127-231500" / "index.html"
    assert str(page) in done.stdout
    assert page.is_file() and (tmp_path / "out" / "latest" / "index.html").is_file()


def test_report_of_a_folder_without_results_says_what_is_missing(tmp_path: Path) -> None:
    done = queuebench("report", str(tmp_path / "nope"), cwd=tmp_path)
    assert done.returncode == 2
    assert "no results file" in done.stdout + done.stderr
    assert not (tmp_path / "reports").exists()


def test_compare_writes_the_page_under_reports_out(tmp_path: Path) -> None:
    b = tmp_path / "b"
    shutil.copytree(FIXTURE, b)
    done = queuebench("compare", str(FIXTURE), str(b), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    page = tmp_path / "reports/out/compare-20261127-231500-vs-20261127-231500/index.html"
    assert page.is_file() and str(page.relative_to(tmp_path)) in done.stdout


def test_a_wrong_flag_is_refused_with_usage(tmp_path: Path) -> None:
    done = queuebench("report", str(FIXTURE), "--colour", cwd=tmp_path)
    assert done.returncode == 2
    assert "unrecognized arguments: --colour" in done.stderr


def test_a_run_whose_report_fails_keeps_its_results_and_says_how_to_retry(tmp_path: Path) -> None:
    from harness import runner

    run = tmp_path / "run"
    shutil.copytree(FIXTURE, run)
    (run / "results.json").write_text("{ not json")
    ok, message = runner.build_report(run, tmp_path / "out")
    assert not ok
    assert f"retry with `queuebench report {run}`" in message
    assert (run / "results.json").read_text() == "{ not json"


def test_the_harness_builds_the_report_in_its_own_process(tmp_path: Path) -> None:
    """The report is `python -m reports`, never imported by the harness (architecture.md)."""
    done = subprocess.run([sys.executable, "-m", "reports", "build", str(FIXTURE), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"report: {tmp_path / 'out' / '20261127-231500' / 'index.html'}"
