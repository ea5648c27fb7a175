"""`reports.compare`: two runs' summary figures side by side, changes beyond the spread flagged."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

import reports
from reports.diff import changes
from reports.run import load

FIXTURE = Path(__file__).parent / "fixtures" / "results-small"


def later_run(tmp_path: Path, scale: dict[tuple[str, str], float], host: str | None = None) -> Path:
    """A copy of the fixture as a later run in which some figures moved:
    scale[(system, metric)] = factor for the median."""
    target = tmp_path / "run-b"
    shutil.copytree(FIXTURE, target)
    d = json.loads((target / "results.json").read_text())
    d["run_id"] = "20261201-090000"
    if host:
        d["metadata"]["host"] = host
    for r in d["summary"]:
        factor = scale.get((r["system"], r["metric"]))
        if factor:  # the whole range moves with the median: the spread stays what it was
            shift = r["median"] * (factor - 1)
            for k in ("median", "min", "max"):
                r[k] += shift
    (target / "results.json").write_text(json.dumps(d))
    return target


def test_a_change_beyond_the_spread_is_flagged_with_its_direction(tmp_path: Path) -> None:
    b = later_run(tmp_path, {("rq", "throughput_per_s"): 1.6, ("celery", "latency_us.p99"): 3.0})
    rows = changes(load(FIXTURE), load(b))
    rq = [r for r in rows if r.system == "RQ" and r.label.startswith("throughput")]
    assert rq and all(r.flagged and r.verdict == "better" for r in rq)
    assert all(r.change == pytest.approx(0.6) for r in rq)
    celery = [r for r in rows if r.system == "Celery" and r.label.startswith("latency p99")]
    assert celery and all(r.flagged and r.verdict == "worse" for r in celery)


def test_a_change_within_the_spread_is_not_flagged(tmp_path: Path) -> None:
    b = later_run(tmp_path, {("sidekiq_clone", "throughput_per_s"): 1.002})
    rows = [r for r in changes(load(FIXTURE), load(b)) if r.system == "Sidekiq clone"
            and r.label.startswith("throughput") and r.spread > 0]
    assert rows
    for r in rows:
        assert abs(r.delta or 0) <= r.spread
        assert not r.flagged


def test_identical_runs_flag_nothing(tmp_path: Path) -> None:
    rows = changes(load(FIXTURE), load(later_run(tmp_path, {})))
    assert rows and not any(r.flagged for r in rows)


def test_the_page_shows_both_runs_and_the_change_and_writes_a_csv(tmp_path: Path) -> None:
    b = later_run(tmp_path, {("rq", "throughput_per_s"): 1.6}, host="another-host")
    page = reports.compare(FIXTURE, b, tmp_path / "cmp")
    assert page == tmp_path / "cmp" / "index.html"
    html = page.read_text()
    assert "20261127-231500" in html and "20261201-090000" in html
    assert "+60.0 %" in html
    assert "The host differs" in html
    assert "<script" not in html
    with (page.parent / "compare.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    flagged = [r for r in rows if r["flagged"] == "True"]
    assert flagged and {r["system"] for r in flagged} == {"RQ"}


def test_compare_defaults_to_a_folder_under_reports_out(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    b = later_run(tmp_path, {})
    monkeypatch.chdir(tmp_path)
    page = reports.compare(FIXTURE, b)
    assert page.resolve() == (tmp_path / "reports/out/compare-20261127-231500-vs-20261201-090000/index.html")


def test_compare_of_a_missing_run_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(reports.ResultsError, match="no results file"):
        reports.compare(FIXTURE, tmp_path / "nothing-here", tmp_path / "cmp")
