"""What the report says at the edges: the unit of concurrency of every throughput figure, the
knee and generator-limited steps on the latency-against-load plot, threads against processes at
equal jobs in flight, and crash outcomes as distributions over trials."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from reports import figures, sections, tables, teach
from reports.run import load

SMALL = Path(__file__).parent / "fixtures" / "results-small"
MEASURED = Path(__file__).parent / "fixtures" / "results-fidelity"


def test_every_throughput_figure_names_processes_and_threads() -> None:
    run = load(SMALL)
    shown = {(k[0], row.params.get("concurrency")): e.concurrency for g in tables.summary(run)
             for row in g.rows if row.metric == "throughput_per_s" for k, e in row.entries.items()
             if k[0] != "redis-py"}
    assert shown[("resque_clone", 4)] == "4 processes × 1 thread"
    assert shown[("sidekiq_clone", 4)] == "1 process × 4 threads"
    assert all(shown.values())
    table = sections.throughput_table(run)
    assert table is not None and all("process" in row[0] for row in table.rows)


def test_the_load_plot_marks_the_maximum_sustainable_rate_and_generator_limited_steps() -> None:
    run = load(MEASURED)
    (plot,) = figures.latency_vs_load(run)
    sweeps = [c for c in run.cells_of("latency") if c["system"] == "sidekiq_clone" and "steps" in c["metrics"]]
    knee = figures.max_sustainable(sweeps)
    assert knee == 4371.4
    assert "Sidekiq clone sustains at most 4,371 jobs/s" in plot.alt
    assert "max sustainable 4,371/s" in plot.svg
    assert "generator-limited (×)" in plot.alt


def test_the_load_plot_draws_every_sweep_step() -> None:
    run = load(MEASURED)
    sweeps = [c for c in run.cells_of("latency") if c["system"] == "sidekiq_ruby" and "steps" in c["metrics"]]
    steps = figures.sweep_steps(sweeps)
    assert sorted(steps) == sorted({s["fraction"] for c in sweeps for s in c["metrics"]["steps"]
                                    if s.get("latency_us")})
    assert all(len(v) <= len(sweeps) for v in steps.values())


def test_memory_states_threads_against_processes_at_equal_jobs_in_flight() -> None:
    (line,) = teach.threads_vs_processes(load(SMALL))
    assert line.startswith("Threads against processes at 4 jobs in flight")
    assert "Sidekiq clone, holds 36.7 MiB" in line and "Resque clone, 113.1 MiB" in line
    assert line.endswith("processes need ×3.1 the memory of threads.")


def test_no_threads_against_processes_sentence_without_both_models() -> None:
    assert teach.threads_vs_processes(load(MEASURED)) == []  # two threaded systems only


def crash_trials(tmp_path: Path, lost: list[int]) -> Path:
    """The fixture with the Resque clone's worker-kill crash cell repeated once per value of
    `lost`, each trial losing that many jobs."""
    target = tmp_path / "run"
    shutil.copytree(SMALL, target)
    d = json.loads((target / "results.json").read_text())
    cell = next(c for c in d["cells"] if c["scenario"] == "crash" and c["system"] == "resque_clone"
                and c["status"] == "ok" and figures.kill_target(c) == "worker")
    trials: list[dict[str, Any]] = []
    for i, n in enumerate(lost):
        t = json.loads(json.dumps(cell))
        t["repeat"], t["id"] = i, f"{cell['id']}-t{i}"
        t["metrics"]["counts"]["lost"] = n
        trials.append(t)
    d["cells"] = [c for c in d["cells"] if c is not cell and c["id"] != cell["id"]] + trials
    d["summary"] = []
    (target / "results.json").write_text(json.dumps(d))
    return target


def test_crash_outcomes_read_as_a_distribution_over_trials(tmp_path: Path) -> None:
    run = load(crash_trials(tmp_path, [0] * 18 + [1, 1]))
    line = next(x for x in teach.crash(run) if x.startswith("Killing Resque clone's worker"))
    assert "(20 trials)" in line and "lost 0–1 (median 0; 0 in 18 trials, 1 in 2)" in line


def test_crash_trials_inside_one_cell_each_count(tmp_path: Path) -> None:
    # the full profile runs several trials in one cell (metrics.per_trial): each is one value
    target = crash_trials(tmp_path, [0])
    d = json.loads((target / "results.json").read_text())
    cell = next(c for c in d["cells"] if c["scenario"] == "crash" and c["id"].endswith("-t0"))
    counts = cell["metrics"]["counts"]
    cell["metrics"]["per_trial"] = [dict(counts, lost=n) for n in (0, 0, 0, 2)]
    (target / "results.json").write_text(json.dumps(d))
    line = next(x for x in teach.crash(load(target)) if x.startswith("Killing Resque clone's worker"))
    assert "(4 trials)" in line and "lost 0–2 (median 0; 0 in 3 trials, 2 in 1)" in line


def test_a_distribution_counts_each_value() -> None:
    assert teach.distribution([2, 0, 0, 1]) == "0 in 2 trials, 1 in 1, 2 in 1"


def test_generator_limited_steps_carry_a_badge_in_the_latency_table() -> None:
    run = load(MEASURED)
    table = sections.latency_table(run)
    assert table is not None and table.headers[-1] == "producer"
    limited = [s for c in run.cells_of("latency") for s in c["metrics"].get("steps") or []
               if (s.get("generator_lag_us") or {}).get("limited")]
    idle = [c for c in run.cells_of("latency") if "steps" not in c["metrics"] and c["metrics"].get("generator_limited")]
    assert limited and sum(1 for row in table.rows if row[-1] == "generator-limited") == len(limited) + len(idle)


def test_generator_limited_sweeps_never_give_the_headline_maximum_sustainable_rate() -> None:
    run = load(MEASURED)
    rows = run.rows("latency", "max_sustainable_rate")
    sweeps = [c for c in run.cells_of("latency") if c["system"] == "sidekiq_clone" and "steps" in c["metrics"]]
    clean = [c for c in sweeps if not c["metrics"]["generator_limited"]]
    (clone,) = [r for r in rows if r["system"] == "sidekiq_clone"]
    assert clone["repeats"] == len(clean) < len(sweeps)


def test_the_summary_lists_each_systems_maximum_sustainable_rate() -> None:
    line = next(x for x in teach.summary(load(MEASURED)) if x.startswith("Maximum sustainable rate"))
    assert "Sidekiq clone 4,371 jobs/s" in line and "generator-limited" in line


def two_flights(tmp_path: Path) -> Path:
    """The fixture's memory cells at 4 jobs in flight, plus a copy of each at 1 in flight whose
    peak is 10 MiB smaller."""
    target = tmp_path / "flights"
    shutil.copytree(SMALL, target)
    d = json.loads((target / "results.json").read_text())
    extra = []
    for c in d["cells"]:
        if c["scenario"] == "memory":
            c["params"]["in_flight"] = 4
            one = json.loads(json.dumps(c))
            one["id"], one["params"]["in_flight"] = c["id"] + "-f1", 1
            for k in ("uss", "pss", "rss"):
                one["metrics"]["peak"][k] -= 10 * 2**20
            extra.append(one)
    d["cells"] += extra
    d["summary"] = []
    (target / "results.json").write_text(json.dumps(d))
    return target


def test_the_memory_table_has_a_row_per_jobs_in_flight(tmp_path: Path) -> None:
    table = sections.memory_table(load(two_flights(tmp_path)))
    assert table is not None and table.headers[2] == "jobs in flight"
    resque = [row for row in table.rows if row[0] == "Resque clone"]
    assert [row[2] for row in resque] == [1, 4]
    assert "children included" in table.caption


def test_memory_sentences_and_the_plot_keep_jobs_in_flight_apart(tmp_path: Path) -> None:
    run = load(two_flights(tmp_path))
    lines = teach.memory(run)
    assert any(x.startswith("Resque clone · 1 in flight") for x in lines)
    assert any(x.startswith("Resque clone · 4 in flight") for x in lines)
    assert len([x for x in teach.threads_vs_processes(run)]) == 2  # at 1 and at 4 in flight
    (plot,) = figures.memory(run)
    assert "Resque clone · 1 in flight peak USS" in plot.alt and "Resque clone · 4 in flight peak USS" in plot.alt
