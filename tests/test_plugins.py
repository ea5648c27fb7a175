"""A scenario and a system from another package, exactly as the top README's "Adding a scenario"
and "Adding a system" write them: the README's code blocks become an installed package (a
dist-info with their entry points on a PYTHONPATH entry, which is what `pip install` leaves), and
`queuebench list`, `queuebench run` and the report find them with no edit to this repository."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def readme_blocks() -> tuple[dict[str, str], str]:
    """The README's example modules ({"mypkg/x.py": source}) and its pyproject block."""
    text = README.read_text()
    modules: dict[str, str] = {}
    toml = ""
    for lang, body in re.findall(r"```(python|toml)\n(.*?)```", text, flags=re.S):
        first = body.splitlines()[0]
        if lang == "python" and re.fullmatch(r"# mypkg/\w+\.py", first):
            modules[first[2:]] = body
        elif lang == "toml" and "queuebench.systems" in body:
            toml = body
    return modules, toml


@pytest.fixture
def plugin(tmp_path: Path) -> dict[str, str]:
    """The README's package, installed on a fresh PYTHONPATH entry; returns the environment."""
    modules, toml = readme_blocks()
    assert {"mypkg/time_to_empty.py", "mypkg/listqueue.py"} <= set(modules), sorted(modules)
    site = tmp_path / "site"
    (site / "mypkg").mkdir(parents=True)
    (site / "mypkg" / "__init__.py").write_text("")
    for path, source in modules.items():
        (site / path).write_text(source)
    groups = tomllib.loads(toml)["project"]["entry-points"]
    dist = site / "mypkg-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: mypkg\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("".join(
        f"[{group}]\n" + "".join(f"{k} = {v}\n" for k, v in eps.items()) + "\n"
        for group, eps in groups.items()))
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["PYTHONPATH"] = os.pathsep.join([str(site), str(ROOT)])
    env["COLUMNS"] = "250"
    return env


def queuebench(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "harness", *args], capture_output=True, text=True,
                          env=env, cwd=cwd, timeout=240)


def test_queuebench_list_shows_the_plugin_system_and_scenario(plugin: dict[str, str],
                                                             tmp_path: Path) -> None:
    out = queuebench(plugin, "list", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "listqueue" in out.stdout and "time_to_empty" in out.stdout
    assert "empty_after_s" in out.stdout  # its headline figure, from the declaration


def test_the_plugin_scenario_and_system_run_and_reach_results_summary_and_report(
        plugin: dict[str, str], tmp_path: Path, redis_url: str) -> None:
    out = queuebench(plugin, "run", "--profile", "quick", "--systems", "listqueue",
                     "--scenarios", "time_to_empty,throughput", "--redis-url", redis_url,
                     "--out", str(tmp_path / "results"), cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    (results_file,) = (tmp_path / "results").glob("*/results.json")
    data = json.loads(results_file.read_text())
    assert data["scenarios"]["time_to_empty"]["figures"][0]["key"] == "empty_after_s"
    cells = {(c["scenario"], c["system"]): c for c in data["cells"]}
    for key in (("time_to_empty", "listqueue"), ("throughput", "listqueue")):
        assert cells[key]["status"] == "ok", cells[key]["reason"]
    assert cells[("time_to_empty", "listqueue")]["metrics"]["empty_after_s"] > 0
    figures = {(r["scenario"], r["system"], r["metric"]) for r in data["summary"]}
    assert ("time_to_empty", "listqueue", "empty_after_s") in figures
    assert ("throughput", "listqueue", "throughput_per_s") in figures
    page = next((tmp_path / "results" / "reports").glob("2*/index.html")).read_text()
    assert 'id="time_to_empty"' in page and "Time to empty" in page
    assert "ListQueue" in page


def test_a_scenario_plugin_that_cannot_load_is_named_and_spares_the_others(
        plugin: dict[str, str], tmp_path: Path) -> None:
    site = Path(plugin["PYTHONPATH"].split(os.pathsep)[0])
    entry_points = site / "mypkg-0.1.dist-info" / "entry_points.txt"
    entry_points.write_text(entry_points.read_text().replace(
        "[queuebench.scenarios]\n", "[queuebench.scenarios]\nbroken = mypkg.missing:SCENARIO\n"))
    listed = queuebench(plugin, "list", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "broken" in listed.stdout and "cannot be loaded" in listed.stdout
    assert "time_to_empty" in listed.stdout and "latency" in listed.stdout
    run = queuebench(plugin, "run", "--scenarios", "broken", "--out", str(tmp_path / "r"),
                     cwd=tmp_path)
    assert run.returncode == 2
    assert "scenario 'broken' cannot be loaded" in " ".join(run.stdout.split())
    assert not (tmp_path / "r").exists()
