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
