"""A run with more system/config pairs than a plot draws (figures.MAX_SERIES), as a default
profile writes one: the page builds, a crowded plot draws each system's main config and names
the configs it leaves out, and every section's table still lists every pair.

The run is the committed fixture plus two extra configs of three systems, made in the test from
the fixture's own cells (scaled a little, so each config has figures of its own); its summary is
made by the harness's code, as `queuebench run` makes it.
"""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from test_reports import Node, dom

import reports
from core import registry
from core import summary as core_summary
from reports.figures import MAX_SERIES
from reports.run import FLOOR

FIXTURE = Path(__file__).parent / "fixtures" / "results-small"
EXTRA = {"resque_clone": ["interval-0.01", "nofork"], "sidekiq_clone": ["reliable", "c2"],
         "celery": ["threads", "solo"]}
# Scenarios whose cells the extra configs get (throughput at concurrency 1 only, as variants run);
# priority keeps one config per system, so its plot is not crowded.
COPIED = ("throughput", "latency", "memory", "crash", "scheduled", "retries")
# The sections whose table lists every pair of that scenario, and the plots that may leave some out.
TABLES = {"latency": "latency", "throughput": "throughput", "memory": "memory", "crash": "crash",
          "scheduled": "scheduled", "priority": "priority", "retries": "retries"}
PLOTS = {"latency": ["cdf-noop"], "load": ["load-noop"], "throughput": ["throughput"],
         "memory": ["memory"], "scheduled": ["scheduled"], "priority": ["priority"]}


def _scaled(value: Any, factor: float) -> Any:
    """Every timing and size in a cell's metrics times factor (counts and shares left alone)."""
    if isinstance(value, dict):
        return {k: (v if k in ("counts", "share", "processed", "weights", "jobs", "concurrency", "count",
                               "processes", "target", "policy", "model", "cdf")
                    else _scaled(v, factor)) for k, v in value.items()}
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    return type(value)(value * factor) if isinstance(value, float) else int(value * factor)


@pytest.fixture(scope="module")
def crowded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    target = tmp_path_factory.mktemp("crowded") / "run"
    shutil.copytree(FIXTURE, target)
    data = json.loads((target / "results.json").read_text())
    data["run_id"] = "20261128-001500"
    extra = []
    for system, configs in EXTRA.items():
        base = data["systems"][system]["configs"]["default"]
        for k, config in enumerate(configs):
            data["systems"][system]["configs"][config] = {**copy.deepcopy(base), "name": config,
                                                          "options": {**base["options"], "variant": config}}
            factor = 0.8 + 0.3 * k
            for c in data["cells"]:
                if (c["system"], c["config"]) != (system, "default") or c["scenario"] not in COPIED:
                    continue
                if c["scenario"] == "throughput" and c["params"].get("concurrency") != 1:
                    continue
                new = copy.deepcopy(c)
                new.update(config=config, id=f"{c['id']}-{config}", raw=None,
                           metrics=_scaled(c["metrics"], factor) if c["status"] == "ok" else c["metrics"])
                if c["scenario"] == "throughput":  # faster, not slower, when times shrink
                    new["metrics"]["throughput_per_s"] = c["metrics"]["throughput_per_s"] / factor
                extra.append(new)
    data["cells"] += extra
    data["summary"] = core_summary.build(data["cells"], registry.scenarios())
    (target / "results.json").write_text(json.dumps(data))
    page = reports.build(target, tmp_path_factory.mktemp("crowded-out"))
    return {"data": data, "doc": dom(page), "run": reports.run.load(target)}


def _label(run: reports.run.Run, system: str, config: str) -> str:
    return reports.figures.name(run, system, config)


def _pairs(data: dict[str, Any], scenario: str, status: str | None = None) -> set[tuple[str, str]]:
    return {(c["system"], c["config"]) for c in data["cells"]
            if c["scenario"] == scenario and c["system"] != FLOOR and (status is None or c["status"] == status)}


def test_the_run_has_more_pairs_than_a_plot_draws(crowded: dict[str, Any]) -> None:
    assert len(_pairs(crowded["data"], "latency")) > MAX_SERIES
    assert len({(c["system"], c["config"]) for c in crowded["data"]["cells"]}) > MAX_SERIES


@pytest.mark.parametrize("section, scenario", sorted(TABLES.items()))
def test_every_pair_of_a_scenario_is_a_row_of_its_table(crowded: dict[str, Any], section: str,
                                                        scenario: str) -> None:
    table = crowded["doc"].find("section", id=section).find("table", id=f"table-{scenario}")
    heads = [tr.find("th").text for tr in table.find("tbody").find_all("tr")]
    for system, config in _pairs(crowded["data"], scenario):
        label = _label(crowded["run"], system, config)
        # "Celery" must be matched as itself, not as the start of "Celery (solo)".
        assert any(h == label or h.startswith(f"{label} ·") for h in heads), (label, heads)


def _legend_and_note(figure: Node) -> tuple[set[str], list[str]]:
    """The texts of the plot (its legend) and the configs its note says it leaves out."""
    texts = {t.text for t in figure.find_all("text")}
    note = figure.find_all("span", class_="omitted")
    if not note:
        return texts, []
    assert "Variants" in note[0].text
    listed = note[0].text.split("readable: ", 1)[1].split(". Their figures", 1)[0]
    return texts, listed.split(", ")


@pytest.mark.parametrize("section", sorted(PLOTS))
def test_a_crowded_plot_draws_the_main_configs_and_names_every_config_it_leaves_out(
        crowded: dict[str, Any], section: str) -> None:
    run, data = crowded["run"], crowded["data"]
    scenario = "latency" if section == "load" else section
    pairs = _pairs(data, scenario, status="ok")
    for fid in PLOTS[section]:
        figure = crowded["doc"].find("figure", id=f"fig-{fid}")
        texts, note = _legend_and_note(figure)
        labels = {(s, c): _label(run, s, c) for s, c in pairs}
        drawn = {k for k, label in labels.items() if label in texts}
        left_out = {k for k, label in labels.items() if label in note}
        assert drawn | left_out == pairs, (section, sorted(pairs - drawn - left_out))
        assert not drawn & left_out
        assert len(note) == len(left_out)
        if len(pairs) > MAX_SERIES:
            assert drawn == {k for k in pairs if k[1] == "default"}
        else:
            assert not note


def test_the_plots_are_crowded_except_priority(crowded: dict[str, Any]) -> None:
    # so the test above checks both branches
    assert len(_pairs(crowded["data"], "priority", status="ok")) <= MAX_SERIES
    for scenario in ("latency", "throughput", "memory", "scheduled"):
        assert len(_pairs(crowded["data"], scenario, status="ok")) > MAX_SERIES, scenario


def test_an_unsupported_config_still_reads_as_unsupported_in_the_summary(crowded: dict[str, Any]) -> None:
    cell = next(c for c in crowded["data"]["cells"] if c["status"] == "unsupported" and c["scenario"] == "retries"
                and c["config"] == "default")
    rows = [tr for tr in crowded["doc"].find("table", id="summary-table").find_all("tr")
            if tr.attrs.get("data-scenario") == "retries"]
    tds = [td for tr in rows for td in tr.find_all("td", data_system=cell["system"])]
    assert tds and all("unsupported" in td.classes() and cell["reason"] in td.text for td in tds)


def test_each_config_is_said_once_in_the_latency_lesson(crowded: dict[str, Any]) -> None:
    lines = [li.text for li in crowded["doc"].find("section", id="latency").find("aside").find_all("li")]
    for system, config in _pairs(crowded["data"], "latency", status="ok"):
        label = _label(crowded["run"], system, config)
        said = re.compile(re.escape(label) + r"(?:'s | polls | starts | \(a blocking)")
        assert sum(1 for t in lines if said.match(t)) == 1, (label, lines)
