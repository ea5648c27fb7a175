"""The report page, rendered from the committed results fixture: its files, its sections, its
numbers, its explanations, and how it treats bad or incomplete input.

The browser checks (console errors, rendering, screenshot) are in test_reports_browser.py.
"""

from __future__ import annotations

import csv
import json
import shutil
import statistics
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import reports
from core.errors import ResultsError
from core.results import figure_name_v1 as canonical
from reports import metrics

FIXTURE = Path(__file__).parent / "fixtures" / "results-small"
SECTIONS = ["summary", "floor", "throughput", "latency", "load", "memory", "retries", "crash",
            "scheduled", "priority", "configs", "raw"]
PLOTTED = ["latency", "load", "throughput", "memory", "retries", "crash", "scheduled", "priority"]


# ---------------------------------------------------------------------------------------------
# a small DOM from the standard library's parser, enough to query the page


class Node:
    def __init__(self, tag: str, attrs: dict[str, str], parent: Node | None) -> None:
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list[Node] = []
        self.parts: list[str] = []

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.parts + [c.text for c in self.children]).split())

    def walk(self) -> list[Node]:
        out = [self]
        for c in self.children:
            out += c.walk()
        return out

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        return [n for n in self.walk()[1:] if (tag is None or n.tag == tag)
                and all(n.attrs.get(k.rstrip("_").replace("_", "-")) == v for k, v in attrs.items())]

    def find(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag} {attrs}>"
        return found[0]

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


VOID = {"meta", "link", "br", "img", "input", "hr", "source", "col", "area", "base", "wbr"}


class TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, {k: v or "" for k, v in attrs}, self.cur)
        self.cur.children.append(node)
        if tag not in VOID:
            self.cur = node

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.cur.children.append(Node(tag, {k: v or "" for k, v in attrs}, self.cur))

    def handle_endtag(self, tag: str) -> None:
        node: Node | None = self.cur
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.cur = node.parent

    def handle_data(self, data: str) -> None:
        self.cur.parts.append(data)


def dom(path: Path) -> Node:
    builder = TreeBuilder()
    builder.feed(path.read_text())
    return builder.root


# ---------------------------------------------------------------------------------------------
# fixtures


@pytest.fixture(scope="module")
def out_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("reports-out")


@pytest.fixture(scope="module")
def page(out_root: Path) -> Path:
    return reports.build(FIXTURE, out_root)


@pytest.fixture(scope="module")
def doc(page: Path) -> Node:
    return dom(page)


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return json.loads((FIXTURE / "results.json").read_text())


@pytest.fixture
def run_copy(tmp_path: Path):
    """A copy of the fixture run whose results.json a test may change: edit(fn) -> run dir."""

    def make(edit, run_id: str = "20261128-000000") -> Path:
        target = tmp_path / f"run-{run_id}"
        shutil.copytree(FIXTURE, target)
        d = json.loads((target / "results.json").read_text())
        d["run_id"] = run_id
        edit(d)
        (target / "results.json").write_text(json.dumps(d))
        return target

    return make


def teach_lines(doc: Node, section: str) -> list[str]:
    sec = doc.find("section", id=section)
    asides = sec.find_all("aside")
    return [li.text for a in asides for li in a.find_all("li")]


def floor_median(data: dict[str, Any], path: str) -> float:
    return statistics.median(float(reports.run.dig(c["metrics"], path)) for c in data["cells"]
                             if c["scenario"] == "floor")


# ---------------------------------------------------------------------------------------------
# files


def test_build_writes_the_page_its_data_latest_and_the_index(page: Path, out_root: Path, data: dict) -> None:
    run_dir = out_root / data["run_id"]
    assert page == run_dir / "index.html"
    for name in ("results.json", "summary.csv", "cells.csv"):
        assert (run_dir / name).is_file()
    for c in data["cells"]:
        if c["raw"]:
            assert (run_dir / c["raw"]).read_text() == (FIXTURE / c["raw"]).read_text()
    assert (out_root / "latest" / "index.html").read_text() == page.read_text()
    index = dom(out_root / "index.html")
    assert index.find("a", href=f"{data['run_id']}/index.html")


def test_the_page_links_its_raw_data_next_to_it(doc: Node, page: Path) -> None:
    hrefs = [a.attrs["href"] for a in doc.find("section", id="raw").find_all("a")]
    assert {"results.json", "summary.csv", "cells.csv"} <= set(hrefs)
    for href in hrefs:
        assert (page.parent / href).is_file(), href


def test_cells_csv_holds_every_cell_and_summary_csv_every_figure(page: Path, data: dict) -> None:
    with (page.parent / "cells.csv").open() as fh:
        ids = {row["cell"] for row in csv.DictReader(fh)}
    assert ids == {c["id"] for c in data["cells"]}
    with (page.parent / "summary.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    figures = {(r["scenario"], r["system"], r["config"], canonical(r["metric"])) for r in data["summary"]}
    assert figures <= {(r["scenario"], r["system"], r["config"], r["metric"]) for r in rows}


def test_an_older_run_rebuilt_does_not_replace_latest(run_copy, tmp_path: Path, data: dict) -> None:
    out = tmp_path / "out"
    newer = run_copy(lambda d: None, run_id="20261130-120000")
    reports.build(newer, out)
    reports.build(FIXTURE, out)
    assert "20261130-120000" in (out / "latest" / "index.html").read_text()
    links = [a.attrs["href"] for a in dom(out / "index.html").find("table").find_all("a")]
    assert links == ["20261130-120000/index.html", f"{data['run_id']}/index.html"]


# ---------------------------------------------------------------------------------------------
# structure


def test_every_section_is_there_with_a_heading(doc: Node) -> None:
    for section in SECTIONS:
        assert doc.find("section", id=section).find("h2").text
    nav = [a.attrs["href"] for a in doc.find("nav").find_all("a")]
    assert nav == [f"#{s}" for s in SECTIONS]


@pytest.mark.parametrize("section", PLOTTED)
def test_every_plotted_section_has_an_inline_svg_figure_and_an_explanation(doc: Node, section: str) -> None:
    sec = doc.find("section", id=section)
    svgs = sec.find_all("svg")
    assert svgs, f"no figure in {section}"
    for svg in svgs:
        assert svg.attrs.get("role") == "img"
        title_id, desc_id = svg.attrs["aria-labelledby"].split()
        assert doc.find(id=title_id).tag == "title" and doc.find(id=title_id).text
        assert doc.find(id=desc_id).tag == "desc" and doc.find(id=desc_id).text
    assert teach_lines(doc, section)


def test_every_system_and_the_floor_are_columns_of_the_summary(doc: Node, data: dict) -> None:
    heads = doc.find("table", id="summary-table").find("thead").find_all("th")
    systems = [th.attrs.get("data-system") for th in heads if th.attrs.get("data-system")]
    assert systems == ["redis-py", *data["systems"]]
    for th in heads:
        assert th.attrs.get("scope") == "col"


def test_every_table_header_cell_has_a_scope(doc: Node) -> None:
    for th in doc.find_all("th"):
        assert th.attrs.get("scope") in ("col", "row", "colgroup"), th.text


def test_the_page_is_self_contained(page: Path, doc: Node) -> None:
    html = page.read_text()
    assert "<script" not in html
    assert not doc.find_all("link", rel="stylesheet")
    for node in doc.walk():
        for attr in ("src", "href"):
            value = node.attrs.get(attr, "")
            assert not value.startswith(("http:", "https:", "//")), value
    assert doc.find("html").attrs.get("lang") == "en"
    assert doc.find("title").text.startswith("queuebench report")


# ---------------------------------------------------------------------------------------------
# numbers


def _summary_cell(doc: Node, row: dict[str, Any]) -> Node | None:
    label = metrics.params_label(row["params"], row["scenario"])
    for tr in doc.find("table", id="summary-table").find_all("tr", data_metric=canonical(row["metric"])):
        if tr.attrs.get("data-scenario") != row["scenario"]:
            continue
        head = tr.find("th")
        detail = " ".join(n.text for n in head.find_all("small"))
        own = " ".join(" ".join(head.parts).split())
        if detail != label or (row["scenario"] != "floor" and not own.endswith(row["workload"])):
            continue
        for td in tr.find_all("td"):
            if td.attrs.get("data-system") == row["system"] and td.attrs.get("data-config") == row["config"]:
                return td
    return None


def test_the_summary_shows_the_median_and_spread_of_every_headline_figure(doc: Node, data: dict) -> None:
    from core import registry

    headline = {(name, f.key) for name, s in registry.scenarios().items()
                for f in s.figures if f.headline}
    checked = 0
    unsupported = {(c["scenario"], c["system"], c["config"]) for c in data["cells"] if c["status"] == "unsupported"}
    for row in data["summary"]:
        if (row["scenario"], canonical(row["metric"])) not in headline or (row["system"] != "redis-py" and row["config"] != "default"):
            continue
        if (row["scenario"], row["system"], row["config"]) in unsupported:
            continue  # said as unsupported, with the reason (the next tests)
        td = _summary_cell(doc, row)
        assert td is not None, row
        assert float(td.attrs["data-median"]) == pytest.approx(row["median"])
        assert metrics.fmt(row["median"], row["unit"]) in td.text
        if row["repeats"] > 1 and row["min"] != row["max"]:
            assert metrics.fmt_range(row["min"], row["max"], row["unit"]) in td.text
        assert f"n={row['repeats']}" in td.text
        checked += 1
    assert checked > 60


def test_throughput_is_shown_with_its_ratio_to_the_floor_and_to_the_best(doc: Node, data: dict) -> None:
    floor = floor_median(data, "throughput_per_s")
    rows = [r for r in data["summary"] if r["scenario"] == "throughput" and r["metric"] == "throughput_per_s"
            and r["config"] == "default" and r["workload"] == "noop" and r["params"]["concurrency"] == 1]
    best = max(r["median"] for r in rows)
    for r in rows:
        td = _summary_cell(doc, r)
        assert td is not None
        shown = f"{r['median']:,.0f}" if r["median"] >= 100 else f"{r['median']:.3g}"
        assert f"{shown} jobs/s" in td.text
        assert f"{metrics.fmt_ratio(r['median'] / floor)} floor" in td.text
        assert f"{metrics.fmt_ratio(r['median'] / best)} best" in td.text
        assert ("best" in td.classes()) == (r["median"] == best)


def test_a_real_workload_is_not_a_multiple_of_the_noop_floor(doc: Node, data: dict) -> None:
    rows = [r for r in data["summary"] if r["scenario"] == "throughput" and r["metric"] == "throughput_per_s"
            and r["workload"] == "highlight" and r["config"] == "default"]
    assert rows
    for r in rows:
        td = _summary_cell(doc, r)
        assert td is not None and "floor" not in td.text


def test_an_unsupported_feature_shows_as_unsupported_with_its_reason(doc: Node, data: dict) -> None:
    cell = next(c for c in data["cells"] if c["status"] == "unsupported" and c["scenario"] == "retries")
    tds = [td for td in doc.find("table", id="summary-table").find_all("td", data_system=cell["system"])
           if "unsupported" in td.classes()]
    assert tds and all(cell["reason"] in td.text for td in tds)
    assert any("not supported" in line and cell["reason"] in line for line in teach_lines(doc, "retries"))


def test_cells_without_figures_are_listed_with_their_reasons(doc: Node, data: dict) -> None:
    table = doc.find("table", id="table-not-ok").text
    for c in data["cells"]:
        if c["status"] != "ok":
            assert c["reason"] in table


def test_configs_and_metadata_are_shown(doc: Node, data: dict) -> None:
    sec = doc.find("section", id="configs").text
    meta = data["metadata"]
    for value in (meta["host"], meta["cpu_model"], meta["redis_version"], " ".join(meta["argv"])):
        assert value in sec
    for name, version in meta["packages"].items():
        assert name in sec and version in sec
    for system in data["systems"].values():
        for config in system["configs"].values():
            assert json.dumps(config["options"], sort_keys=True) in sec


def test_the_memory_table_gives_uss_pss_and_rss_idle_and_peak(doc: Node) -> None:
    heads = [th.text for th in doc.find("table", id="table-memory").find("thead").find_all("th")]
    for phase in ("idle", "peak"):
        for kind in ("USS", "PSS", "RSS"):
            assert f"{phase} {kind}" in heads


def test_the_crash_table_counts_every_outcome(doc: Node, data: dict) -> None:
    text = doc.find("table", id="table-crash").text
    for c in data["cells"]:
        if c["scenario"] == "crash" and c["status"] == "ok":
            counts = c["metrics"]["counts"]
            assert " ".join(str(counts[k]) for k in ("completed", "duplicate", "failed", "pending", "lost")) in text


# ---------------------------------------------------------------------------------------------
# what it teaches: written from the numbers


def test_the_polling_lesson_quotes_the_measured_delay_and_the_interval(doc: Node, data: dict) -> None:
    p50 = statistics.median(c["metrics"]["latency_us"]["p50"] for c in data["cells"]
                            if c["scenario"] == "latency" and c["system"] == "resque_clone"
                            and c["params"]["load"] == "idle" and c["status"] == "ok")
    line = next(t for t in teach_lines(doc, "latency") if t.startswith("Resque clone"))
    assert metrics.fmt(p50, "us") in line
    assert "0.1 s polling interval" in line and "half an interval late" in line


def test_the_polling_lesson_is_not_said_when_the_numbers_do_not_show_it(run_copy, tmp_path: Path) -> None:
    def slow(d: dict) -> None:  # a median delay near the whole interval is not "half an interval"
        for c in d["cells"]:
            if c["scenario"] == "latency" and c["system"] == "resque_clone" and c["status"] == "ok":
                c["metrics"]["latency_us"]["p50"] = 95_000
        for r in d["summary"]:
            if r["scenario"] == "latency" and r["system"] == "resque_clone":
                r["median"] = r["min"] = r["max"] = 95_000

    page = reports.build(run_copy(slow), tmp_path / "out")
    line = next(t for t in teach_lines(dom(page), "latency") if t.startswith("Resque clone"))
    assert "half an interval" not in line
    assert "polls every 0.1 s" in line and "95.0 ms" in line


def test_a_blocking_pop_is_not_called_polling(run_copy, tmp_path: Path) -> None:
    def blocking(d: dict) -> None:  # a blocking pop's interval is its timeout, not a sleep
        d["systems"]["resque_clone"]["configs"]["default"]["options"].update(blocking=True, interval=1.0)

    page = reports.build(run_copy(blocking), tmp_path / "out")
    line = next(t for t in teach_lines(dom(page), "latency") if t.startswith("Resque clone"))
    assert "blocking pop" in line and "timeout" in line
    assert "polls" not in line and "half an interval" not in line


def test_the_floor_is_called_a_bound_only_while_no_queue_beat_it(doc: Node, run_copy, tmp_path: Path) -> None:
    assert any("pays at least once" in t for t in teach_lines(doc, "floor"))

    def slow_floor(d: dict) -> None:  # a hop slower than some queue's start
        for r in d["summary"]:
            if r["scenario"] == "floor" and r["metric"] in ("hop_p50_us", "hop_latency_us.p50"):
                r["median"] = r["min"] = r["max"] = 50_000

    page = reports.build(run_copy(slow_floor), tmp_path / "out")
    line = next(t for t in teach_lines(dom(page), "floor") if "hop" in t)
    assert "started jobs sooner" in line and "not as a bound" in line


def test_the_copy_on_write_note_appears_only_where_rss_sums_exceed_pss(doc: Node, data: dict) -> None:
    lines = [t for t in teach_lines(doc, "memory") if t.startswith("Copy-on-write")]
    for system, title in (("resque_clone", "Resque clone"), ("sidekiq_clone", "Sidekiq clone")):
        peaks = [c["metrics"]["peak"] for c in data["cells"] if c["scenario"] == "memory" and c["system"] == system]
        shared = statistics.median(p["processes"] for p in peaks) > 1 and \
            statistics.median(p["rss"] for p in peaks) > 1.15 * statistics.median(p["pss"] for p in peaks)
        assert any(title in line for line in lines) == shared


def test_the_priority_lesson_compares_the_share_with_the_weights(doc: Node, data: dict) -> None:
    line = next(t for t in teach_lines(doc, "priority") if t.startswith("Sidekiq clone"))
    weights = next(c["metrics"]["weights"] for c in data["cells"]
                   if c["scenario"] == "priority" and c["system"] == "sidekiq_clone")
    promised = weights["high"] / sum(weights.values())
    assert f"promise {promised * 100:.0f} %" in line


def test_the_crash_lesson_counts_what_was_lost(doc: Node, data: dict) -> None:
    lines = teach_lines(doc, "crash")
    for c in data["cells"]:
        if c["scenario"] == "crash" and c["status"] == "ok" and c["metrics"]["counts"]["lost"]:
            assert any(f"lost {c['metrics']['counts']['lost']}" in t and c["metrics"]["target"] in t
                       for t in lines)


# ---------------------------------------------------------------------------------------------
# incomplete and bad input


def test_an_interrupted_run_says_so_and_what_was_not_reached(run_copy, tmp_path: Path) -> None:
    def interrupt(d: dict) -> None:
        d["partial"] = True
        d["cells"] = [c for c in d["cells"] if c["scenario"] not in ("crash", "scheduled", "priority")]
        d["summary"] = [r for r in d["summary"] if r["scenario"] not in ("crash", "scheduled", "priority")]

    doc = dom(reports.build(run_copy(interrupt), tmp_path / "out"))
    assert "interrupted" in doc.find("div", role="note").text
    for section in ("crash", "scheduled", "priority"):
        sec = doc.find("section", id=section)
        assert "interrupted before it" in sec.text
        assert not sec.find_all("svg")


def test_a_file_without_a_summary_gets_one_computed_from_its_cells(run_copy, tmp_path: Path, data: dict) -> None:
    doc = dom(reports.build(run_copy(lambda d: d.update(summary=[])), tmp_path / "out"))
    assert any("computed by the report" in n.text for n in doc.find_all("div", role="note"))
    rows = [c for c in data["cells"] if c["scenario"] == "throughput" and c["system"] == "rq"
            and c["config"] == "default" and c["workload"] == "noop" and c["params"]["concurrency"] == 1]
    median = statistics.median(c["metrics"]["throughput_per_s"] for c in rows)
    tds = [td for td in doc.find("table", id="summary-table").find_all("td", data_system="rq")
           if td.attrs.get("data-median") and float(td.attrs["data-median"]) == pytest.approx(median)]
    assert tds


def test_a_missing_results_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="no results file"):
        reports.build(tmp_path, tmp_path / "out")


def test_a_truncated_results_file_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "results.json").write_text((FIXTURE / "results.json").read_text()[:5000])
    with pytest.raises(ResultsError, match="not valid JSON"):
        reports.build(tmp_path, tmp_path / "out")


def test_another_schema_is_refused_with_the_reason(run_copy, tmp_path: Path) -> None:
    with pytest.raises(ResultsError, match="schema 99"):
        reports.build(run_copy(lambda d: d.update(schema=99)), tmp_path / "out")


def test_a_run_id_that_is_not_a_folder_name_is_refused(run_copy, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with pytest.raises(ResultsError, match="cannot name a folder"):
        reports.build(run_copy(lambda d: d.update(run_id="../escape")), out)
    assert not (tmp_path / "escape").exists()


def test_a_strict_order_that_served_default_first_is_explained_not_praised(run_copy, tmp_path: Path) -> None:
    def alphabetical(d: dict) -> None:  # queues '*': the worker reads 'default' before 'high'
        d["systems"]["resque_clone"]["configs"]["default"]["options"]["queues"] = "*"
        for c in d["cells"]:
            if c["scenario"] == "priority" and c["system"] == "resque_clone":
                c["metrics"]["share"] = {"high": 0.0, "default": 1.0}

    lines = teach_lines(dom(reports.build(run_copy(alphabetical), tmp_path / "out")), "priority")
    line = next(t for t in lines if t.startswith("Resque clone"))
    assert "high got only 0.0 %" in line and "alphabetically" in line
    assert "starve" not in line


# ---------------------------------------------------------------------------------------------
# an older results schema, migrated on read

SCHEMA1 = Path(__file__).parent / "fixtures" / "results-schema1"


def test_a_schema_1_run_is_migrated_to_figures_named_by_their_path() -> None:
    from core import results

    data = results.read(SCHEMA1)
    assert data["schema"] == results.SCHEMA
    metrics_named = {r["metric"] for r in data["summary"]}
    assert {"latency_us.p50", "hop_latency_us.p50", "peak.uss", "counts.lost", "share.high",
            "error_ms.p50", "time_to_success_s.p50"} <= metrics_named
    assert not metrics_named & {"latency_p50_us", "hop_p50_us", "peak_uss", "lost", "high_share"}
    retries = [c for c in data["cells"] if c["scenario"] == "retries" and c["metrics"].get("jobs")]
    assert retries and all("succeeded" in c["metrics"] and "attempts_per_job" in c["metrics"]
                           for c in retries)


def test_a_schema_1_run_renders_every_section_with_the_installed_declarations(tmp_path: Path) -> None:
    doc = dom(reports.build(SCHEMA1, tmp_path / "out"))
    for section in ("floor", "throughput", "latency", "memory", "retries", "crash", "scheduled",
                    "priority"):
        assert doc.find("section", id=section)
    table = doc.find("table", id="summary-table")
    assert table.find_all("tr", data_metric="latency_us.p50")
