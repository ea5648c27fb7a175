"""The across_hosts section of the report: throughput against the number of worker hosts and how
busy the one Redis was, explained from the measured figures (fixture: results-across-hosts, a
real run on three testnet hosts; see its README).

Every expected figure is read from the fixture, so the tests state what the section must say,
not what one run happened to measure."""

from __future__ import annotations

import copy
import functools
import json
import statistics
from pathlib import Path
from typing import Any

import pytest

import reports
from reports import across_hosts, metrics
from reports.run import load

FIXTURES = Path(__file__).parent / "fixtures"
FIXTURE = FIXTURES / "results-across-hosts"
WITHOUT = FIXTURES / "results-rtt"  # a measured run without across_hosts


@pytest.fixture(scope="module")
def data() -> dict[str, Any]:
    return json.loads((FIXTURE / "results.json").read_text())


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> str:
    return reports.build(FIXTURE, tmp_path_factory.mktemp("out")).read_text()


def _run(tmp_path: Path, data: dict[str, Any]) -> Any:
    target = tmp_path / "run"
    target.mkdir(exist_ok=True)
    (target / "results.json").write_text(json.dumps(data))
    return load(target)


def _median(data: dict[str, Any], system: str, hosts: int, key: str) -> float:
    return statistics.median(
        float(c["metrics"][key])
        for c in data["cells"]
        if c["scenario"] == "across_hosts"
        and c["status"] == "ok"
        and c["system"] == system
        and c["config"] == "default"
        and c["params"]["hosts"] == hosts
    )


def _systems(data: dict[str, Any]) -> list[str]:
    return sorted(
        {
            c["system"]
            for c in data["cells"]
            if c["scenario"] == "across_hosts" and c["status"] == "ok"
        }
    )


def _hosts(data: dict[str, Any], system: str) -> list[int]:
    return sorted(
        {
            c["params"]["hosts"]
            for c in data["cells"]
            if c["scenario"] == "across_hosts" and c["status"] == "ok" and c["system"] == system
        }
    )


@functools.cache
def _title(system: str) -> str:
    """The system's short name as the report writes it ("RQ"), from the fixture's systems."""
    return str(load(FIXTURE).title(system))


def _sentence(paragraphs: list[str], system: str) -> str:
    mine = [p for p in paragraphs if p.startswith(f"{_title(system)}: ")]
    assert len(mine) == 1, (system, paragraphs)
    return mine[0]


# ---------------------------------------------------------------------------------------------
# the page


def test_the_fixture_is_a_run_of_several_systems_on_one_to_three_hosts(data: dict) -> None:
    assert len(_systems(data)) >= 4
    assert all(_hosts(data, s) == [1, 2, 3] for s in _systems(data))


def test_the_report_of_a_run_across_hosts_has_its_section_plot_and_table(page: str) -> None:
    assert '<section id="across_hosts">' in page
    assert '<figure id="fig-across_hosts">' in page
    assert 'id="across_hosts-title"' in page  # the plot's accessible title
    assert "Throughput and Redis CPU against the number of hosts" in page
    assert "ceiling at one Redis core" in page  # the section's own table, not the generic one
    assert "gains from added hosts" in page or "no clear change" in page


def test_a_run_without_across_hosts_has_no_such_section(tmp_path: Path) -> None:
    run = load(WITHOUT)
    assert across_hosts.plot(run) == [] and across_hosts.explain(run) == []
    assert across_hosts.table(run) is None
    page = reports.build(WITHOUT, tmp_path / "out").read_text()
    assert '<section id="rtt">' in page
    assert 'id="across_hosts"' not in page and "ceiling at one Redis core" not in page


# ---------------------------------------------------------------------------------------------
# the explanation follows the data


def test_each_systems_ratio_of_three_hosts_to_one_is_stated(data: dict, tmp_path: Path) -> None:
    text = across_hosts.explain(_run(tmp_path, data))
    for system in _systems(data):
        ratio = _median(data, system, 3, "throughput_per_s") / _median(
            data, system, 1, "throughput_per_s"
        )
        assert f"3 hosts / 1 host ×{ratio:.2f}" in _sentence(text, system)


def test_redis_cpu_and_the_projected_ceiling_are_those_measured(data: dict, tmp_path: Path) -> None:
    text = across_hosts.explain(_run(tmp_path, data))
    for system in _systems(data):
        rates = {h: _median(data, system, h, "throughput_per_s") for h in _hosts(data, system)}
        best = max(rates, key=lambda h: rates[h])
        cpu = _median(data, system, best, "redis_cpu")
        said = _sentence(text, system)
        assert f"was {across_hosts.cores(cpu)} busy at its best rate" in said
        assert f"on {best} host" in said
        assert f"stop at about {metrics.fmt(rates[best] / cpu, 'jobs/s')}" in said
    busiest = max(_median(data, s, h, "redis_cpu") for s in _systems(data) for h in _hosts(data, s))
    if busiest < across_hosts.NEAR_CEILING:
        assert f"the busiest it got was {across_hosts.cores(busiest)}" in " ".join(text)


def test_a_redis_near_one_core_is_called_the_ceiling(data: dict, tmp_path: Path) -> None:
    changed = copy.deepcopy(data)
    for cell in changed["cells"]:
        if cell["system"] == "sidekiq_clone" and cell["params"]["hosts"] == 3:
            cell["metrics"]["redis_cpu"] = 0.95
    changed.pop("summary", None)
    text = " ".join(across_hosts.explain(_run(tmp_path, changed)))
    said = f"Redis approached its one core (0.95 cores for {_title('sidekiq_clone')} on 3 hosts)"
    assert said in text
    assert "the single Redis is the ceiling" in text
    assert "never approached" not in text


def test_a_system_whose_rate_triples_gains_from_added_hosts(data: dict, tmp_path: Path) -> None:
    changed = copy.deepcopy(data)
    base = _median(data, "rq", 1, "throughput_per_s")
    for cell in changed["cells"]:
        if cell["system"] == "rq" and cell["params"]["hosts"] == 3:
            cell["metrics"]["throughput_per_s"] = 3 * base
        if cell["system"] == "rq" and cell["params"]["hosts"] == 1:
            cell["metrics"]["throughput_per_s"] = base
    changed.pop("summary", None)
    text = across_hosts.explain(_run(tmp_path, changed))
    assert "3 hosts / 1 host ×3.00, it gains from added hosts" in _sentence(text, "rq")
    assert "gained: " in text[0] and f"{_title('rq')} ×3.00" in text[0]


def test_sharding_and_redis_cluster_are_explained(data: dict, tmp_path: Path) -> None:
    text = " ".join(across_hosts.explain(_run(tmp_path, data)))
    assert "Sharding the queues over k Redis servers" in text and "Redis Cluster" in text


# ---------------------------------------------------------------------------------------------
# the table


def test_the_table_has_a_row_per_system_and_hosts_with_commands_per_job(
    data: dict, tmp_path: Path
) -> None:
    table = across_hosts.table(_run(tmp_path, data))
    assert table is not None
    rows = {(r[0], r[1]): r for r in table.rows}
    for system in _systems(data):
        for hosts in _hosts(data, system):
            row = rows[(_title(system), hosts)]
            ops = _median(data, system, hosts, "redis_ops_per_job")
            assert row[table.headers.index("commands / job")] == f"{ops:.2f}"
            cpu = _median(data, system, hosts, "redis_cpu")
            assert row[table.headers.index("Redis CPU")] == across_hosts.cores(cpu)
