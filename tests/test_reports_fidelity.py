"""The fidelity table: a clone's figures beside its original's, declared generically by
System.original and recorded in results.json's systems; on the measured fixture
results-fidelity (the Sidekiq clone and real Sidekiq 6.4.1, 5 repeats)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_reports import dom

import reports
from core import registry
from reports import fidelity
from reports.run import load

MEASURED = Path(__file__).parent / "fixtures" / "results-fidelity"
SMALL = Path(__file__).parent / "fixtures" / "results-small"


def test_the_sidekiq_clone_names_real_sidekiq_as_its_original() -> None:
    assert registry.system("sidekiq_clone").original == "sidekiq_ruby"
    assert registry.system("rq").original is None


def test_each_clone_is_paired_with_the_original_the_run_measured() -> None:
    assert fidelity.originals(load(MEASURED)) == {"sidekiq_clone": "sidekiq_ruby"}


def test_a_run_without_the_original_has_no_fidelity_table(tmp_path: Path) -> None:
    assert fidelity.originals(load(SMALL)) == {}
    assert fidelity.table(load(SMALL)) is None


def test_every_shared_headline_figure_gets_a_row_with_the_ratio_and_its_interval() -> None:
    run = load(MEASURED)
    pairs = fidelity.pairs(run, "sidekiq_clone", "sidekiq_ruby")
    metrics_ = {p.clone["metric"] for p in pairs}
    assert {"throughput_per_s", "peak.uss", "latency_us.p50"} <= metrics_
    for p in pairs:
        assert p.clone["metric"] == p.original["metric"] and p.clone["params"] == p.original["params"]
        if not p.meaningful:
            continue  # a figure near zero: no ratio (below)
        ci = p.ratio_ci
        assert p.ratio is not None and ci is not None and ci[0] <= p.ratio <= ci[1]


def test_the_ratio_is_clone_over_original() -> None:
    run = load(MEASURED)
    mem = next(p for p in fidelity.pairs(run, "sidekiq_clone", "sidekiq_ruby") if p.clone["metric"] == "peak.uss")
    assert mem.ratio == pytest.approx(mem.clone["median"] / mem.original["median"])
    assert mem.clear  # 21.7 against 23.7 MiB, both intervals narrow: they separate


def test_overlapping_intervals_read_no_clear_difference() -> None:
    table = fidelity.table(load(MEASURED))
    assert table is not None
    verdicts = {row[0]: row[-1] for row in table.rows}
    assert verdicts["Throughput: throughput · noop · concurrency 10"] == "no clear difference"
    assert verdicts["Memory: peak USS · sleep · in_flight 2"] == "differs"


def test_any_system_may_name_an_original(tmp_path: Path) -> None:
    target = tmp_path / "run"
    shutil.copytree(SMALL, target)
    d = json.loads((target / "results.json").read_text())
    d["systems"]["rq"]["original"] = "resque_clone"  # not true, but declared: the table follows it
    (target / "results.json").write_text(json.dumps(d))
    run = load(target)
    assert fidelity.originals(run) == {"rq": "resque_clone"}
    table = fidelity.table(run)
    assert table is not None and all(row[1] == "RQ / Resque clone" for row in table.rows)


def test_the_page_has_a_fidelity_section_after_the_summary(tmp_path: Path) -> None:
    doc = dom(reports.build(MEASURED, tmp_path / "out"))
    ids = [s.attrs.get("id") for s in doc.find_all("section")]
    assert ids[:2] == ["summary", "fidelity"]
    table = doc.find("table", id="table-fidelity")
    assert "Sidekiq clone / Sidekiq 6.4.1" in table.text and "95 % bootstrap CI" in table.text


def test_a_figure_near_zero_gets_no_ratio() -> None:
    run = load(MEASURED)
    per_job = next(p for p in fidelity.pairs(run, "sidekiq_clone", "sidekiq_ruby")
                   if p.clone["metric"] == "peak_over_idle_per_job.pss")
    assert min(per_job.clone["values"]) <= 0  # the measured clone's per-job PSS straddles zero
    assert per_job.ratio is None and per_job.ratio_ci is None
    table = fidelity.table(run)
    assert table is not None
    row = next(r for r in table.rows if r[0].startswith("Memory: memory per job in flight"))
    assert row[4] == "— (a figure near zero)"
