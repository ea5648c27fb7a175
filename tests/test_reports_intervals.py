"""Figures a reader can trust: every compared figure with its labelled interval, ratios with
intervals and the floor they divide by, "no clear difference" where intervals overlap,
pyperf-style warnings, the quick profile's banner, and `compare` flagging only separate
intervals. On two committed fixtures: results-small (3 repeats: min–max) and results-fidelity
(a measured run with 5 repeats: bootstrap intervals)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from test_reports import Node, dom

import reports
from reports import tables
from reports.diff import changes
from reports.run import load

SMALL = Path(__file__).parent / "fixtures" / "results-small"
MEASURED = Path(__file__).parent / "fixtures" / "results-fidelity"


def copy_run(src: Path, target: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    shutil.copytree(src, target)
    d = json.loads((target / "results.json").read_text())
    edit(d)
    (target / "results.json").write_text(json.dumps(d))
    return target


@pytest.fixture(scope="module")
def measured_doc(tmp_path_factory: pytest.TempPathFactory) -> Node:
    return dom(reports.build(MEASURED, tmp_path_factory.mktemp("out")))


def entries(run_dir: Path, metric: str, system: str) -> list[tables.Entry]:
    run = load(run_dir)
    return [e for g in tables.summary(run) for row in g.rows if row.metric == metric
            for (s, _), e in row.entries.items() if s == system]


def cell_text(doc: Node, system: str, metric: str) -> list[str]:
    rows = [tr for tr in doc.find("table", id="summary-table").find_all("tr")
            if tr.attrs.get("data-metric") == metric]
    return [td.text for tr in rows for td in tr.find_all("td") if td.attrs.get("data-system") == system]


# ---------------------------------------------------------------------------------------------
# intervals, labelled


def test_five_repeats_show_a_bootstrap_interval_labelled_so(measured_doc: Node) -> None:
    shown = cell_text(measured_doc, "sidekiq_clone", "peak.uss")
    assert shown and all("95 % bootstrap CI" in t for t in shown)


def test_fewer_than_five_repeats_show_the_min_max_labelled_with_the_count() -> None:
    found = entries(SMALL, "throughput_per_s", "rq")
    assert found and all(e.spread.endswith("(min–max of 3)") for e in found)


def test_the_interval_shown_is_the_summary_rows_ci() -> None:
    run = load(MEASURED)
    row = next(r for r in run.summary if r["system"] == "sidekiq_ruby" and r["metric"] == "peak.uss")
    e = tables.entry_of(run, row)
    assert e.bounds == tuple(row["ci"]) and e.interval == "bootstrap95"


# ---------------------------------------------------------------------------------------------
# ratios: their interval and the floor they use


def test_a_floor_ratio_names_the_floor_of_its_connection_count(measured_doc: Node) -> None:
    run = load(MEASURED)
    rows = {r["params"]["concurrency"]: r for r in run.summary if r["system"] == "sidekiq_clone"
            and r["metric"] == "throughput_per_s"}
    assert tables.entry_of(run, rows[10]).floor_name == "floor at 10 connections"
    assert tables.entry_of(run, rows[1]).floor_name == "floor at 1 connection"
    page = " ".join(cell_text(measured_doc, "sidekiq_clone", "throughput_per_s"))
    assert "floor at 10 connections (×" in page and "floor at 1 connection (×" in page


def test_a_ratio_to_the_best_carries_its_interval() -> None:
    found = [e for e in entries(MEASURED, "peak.uss", "sidekiq_ruby")]
    assert found and all(e.best_ci and e.best_ci[0] <= (e.ratio_best or 0) <= e.best_ci[1] for e in found)


def test_overlapping_intervals_say_no_clear_difference(measured_doc: Node) -> None:
    # Throughput at 10 threads: real Sidekiq's interval lies inside the clone's wide one.
    overlapping = entries(MEASURED, "throughput_per_s", "sidekiq_ruby")
    assert any(e.unclear for e in overlapping)
    assert any("no clear difference" in t for t in cell_text(measured_doc, "sidekiq_ruby", "throughput_per_s"))
    # Memory: the intervals separate, so the page claims a difference.
    assert not any(e.unclear for e in entries(MEASURED, "peak.uss", "sidekiq_ruby"))


# ---------------------------------------------------------------------------------------------
# pyperf-style warnings


def test_a_wide_spread_is_warned_about() -> None:
    found = entries(MEASURED, "throughput_per_s", "sidekiq_ruby")
    assert found and all(any(w.startswith("unstable") for w in e.warnings) for e in found)
    assert not any(any(w.startswith("unstable") for w in e.warnings)
                   for e in entries(MEASURED, "peak.uss", "sidekiq_clone"))


def test_a_high_load_average_is_warned_about_and_a_quiet_machine_is_not(tmp_path: Path) -> None:
    def quiet(d: dict[str, Any]) -> None:
        for c in d["cells"]:
            c["load_before"] = 0.5
    calm = copy_run(MEASURED, tmp_path / "calm", quiet)
    loaded = entries(MEASURED, "peak.uss", "sidekiq_clone")
    assert loaded and all(any("load average" in w for w in e.warnings) for e in loaded)
    assert not any(any("load average" in w for w in e.warnings) for e in entries(calm, "peak.uss", "sidekiq_clone"))


# ---------------------------------------------------------------------------------------------
# the quick profile is a smoke test


def test_a_quick_report_says_it_is_a_smoke_test_and_shows_no_ratios(tmp_path: Path) -> None:
    quick = copy_run(SMALL, tmp_path / "quick", lambda d: d.update(profile="quick"))
    doc = dom(reports.build(quick, tmp_path / "out"))
    banner = doc.find(None, **{"class": "notice quick-banner"})
    assert "not for comparing" in banner.text.replace("\n", " ") or "too small to compare" in banner.text
    summary = doc.find("table", id="summary-table").text
    assert " floor" not in summary.replace("Floor", "") and " best" not in summary


def test_a_default_report_has_no_smoke_test_banner(measured_doc: Node) -> None:
    assert not measured_doc.find_all(None, **{"class": "notice quick-banner"})


# ---------------------------------------------------------------------------------------------
# compare flags only separate intervals


def moved(src: Path, target: Path, system: str, metric: str, median: float, lo: float, hi: float) -> Path:
    def edit(d: dict[str, Any]) -> None:
        d["run_id"] = "20261201-090000"
        for r in d["summary"]:
            if r["system"] == system and r["metric"] == metric:
                r.update(median=median, min=lo, max=hi, ci=[lo, hi], interval="bootstrap95",
                         values=[lo, median, median, median, hi])
    return copy_run(src, target, edit)


def base(tmp_path: Path) -> Path:
    return moved(MEASURED, tmp_path / "a", "sidekiq_clone", "peak.uss", 0.9e6, 0.9e6, 1.5e6)


def test_compare_does_not_flag_a_change_larger_than_the_spread_when_intervals_overlap(tmp_path: Path) -> None:
    # A: median 0.9 MB in [0.9, 1.5] MB; B: median 1.6 MB in [1.4, 1.6] MB. The change (0.7 MB)
    # is larger than either interval's width, yet the intervals overlap: no clear difference.
    a = base(tmp_path)
    b = moved(MEASURED, tmp_path / "b", "sidekiq_clone", "peak.uss", 1.6e6, 1.4e6, 1.6e6)
    row = [r for r in changes(load(a), load(b)) if r.system == "Sidekiq clone" and r.label == "peak USS · sleep"]
    assert row and not row[0].flagged


def test_compare_flags_a_change_whose_intervals_separate(tmp_path: Path) -> None:
    a = base(tmp_path)
    b = moved(MEASURED, tmp_path / "b", "sidekiq_clone", "peak.uss", 1.7e6, 1.6e6, 1.8e6)
    row = [r for r in changes(load(a), load(b)) if r.system == "Sidekiq clone" and r.label == "peak USS · sleep"]
    assert row and row[0].flagged and row[0].verdict == "worse"


def test_a_quick_reports_summary_sentences_carry_no_ratio(tmp_path: Path) -> None:
    from reports.page import _quick_safe

    quick = load(copy_run(SMALL, tmp_path / "quick", lambda d: d.update(profile="quick")))
    lines = _quick_safe(quick, reports.teach.summary(quick))
    assert lines and not any("×" in line for line in lines)
    assert any("×" in line for line in reports.teach.summary(load(SMALL)))


def test_the_run_metadata_records_the_load_average(redis_url: str) -> None:
    from harness import metadata

    load_avg = metadata.collect(redis_url, True, [])["loadavg"]
    assert len(load_avg) == 3 and all(x >= 0 for x in load_avg)


def test_the_throughput_table_labels_its_intervals() -> None:
    from reports import sections

    measured = sections.throughput_table(load(MEASURED))
    small = sections.throughput_table(load(SMALL))
    assert measured is not None and small is not None and measured.headers[2] == "interval"
    assert all(row[2].endswith("(95 % bootstrap CI)") for row in measured.rows)
    assert all(row[2].endswith("(min–max of 3)") for row in small.rows if row[3] == 3)


def test_a_section_without_hooks_labels_its_intervals() -> None:
    from reports import sections

    table = sections.generic_table(load(MEASURED), "memory")
    assert table is not None and table.headers[3] == "interval"
    assert all(row[3].endswith("(95 % bootstrap CI)") for row in table.rows if row[4] >= 5)


def test_the_comparison_csv_gives_the_intervals_it_judged_by(tmp_path: Path) -> None:
    import csv

    a = base(tmp_path)
    b = moved(MEASURED, tmp_path / "b", "sidekiq_clone", "peak.uss", 1.7e6, 1.6e6, 1.8e6)
    page = reports.compare(a, b, tmp_path / "cmp")
    with (page.parent / "compare.csv").open() as fh:
        rows = [r for r in csv.DictReader(fh) if r["figure"] == "peak USS · sleep" and r["system"] == "Sidekiq clone"]
    assert rows and rows[0]["a_interval"] == "bootstrap95" and float(rows[0]["b_low"]) == 1.6e6
    assert rows[0]["flagged"] == "True"


def test_a_page_measured_on_a_busy_machine_says_so(measured_doc: Node) -> None:
    note = measured_doc.find(None, **{"class": "notice load-note"}).text
    assert "measured while the machine was busy" in note


def test_a_page_measured_on_a_quiet_machine_has_no_load_note(tmp_path: Path) -> None:
    def quiet(d: dict[str, Any]) -> None:
        for c in d["cells"]:
            c["load_before"] = 0.1
    doc = dom(reports.build(copy_run(MEASURED, tmp_path / "calm", quiet), tmp_path / "out"))
    assert not doc.find_all(None, **{"class": "notice load-note"})
