"""The probe: one unbuffered line per attempt, kept through a SIGKILL, and what a record costs.

The cost benchmarks run once as plain tests by default (pyproject passes --benchmark-disable);
measure with:  pytest tests/test_probe.py --benchmark-enable -k cost
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from core import probe
from workloads import registry


def records(run_dir: Path) -> list[dict[str, Any]]:
    return list(probe.read_records(run_dir))


def test_an_attempt_is_one_line_with_every_field(run_dir: Path) -> None:
    registry.prepare("noop", run_dir)
    planned = time.time_ns()
    registry.run_job("demo", "job-1", planned, "noop", [], attempt=1)
    [rec] = records(run_dir)
    assert rec["system"] == "demo" and rec["job"] == "job-1" and rec["attempt"] == 1
    assert rec["planned"] == planned <= rec["start"] <= rec["end"]
    assert rec["outcome"] == "ok" and rec["error"] is None and rec["pid"] == os.getpid()


@pytest.mark.parametrize("fields", [
    ("rq", "0" * 32, 1, 1795800000000000000, 1795800000000000001, 1795800000000000002, "ok", None, 42),
    ("celery", "id-\"quoted\"\\", None, 0, 1, 2, "error", "KeyError: 'é' \n\u2603 \x00", 7),
    ("x", 17, True, 1.5, 2, 3, "ok", None, 1),  # odd types still give json.dumps's bytes
])
def test_a_record_line_is_what_json_dumps_writes(fields: tuple[Any, ...]) -> None:
    keys = ("system", "job", "attempt", "planned", "start", "end", "outcome", "error", "pid")
    expected = json.dumps(dict(zip(keys, fields, strict=True)), separators=(",", ":")) + "\n"
    assert probe._line(*fields) == expected.encode()


def test_a_failing_attempt_is_recorded_and_the_error_reaches_the_queue(run_dir: Path) -> None:
    registry.prepare("flaky", run_dir, {"fail_first": 1})
    with pytest.raises(Exception, match="failed on purpose"):
        registry.run_job("demo", "job-1", time.time_ns(), "flaky", ["k"], attempt=1)
    registry.run_job("demo", "job-1", time.time_ns(), "flaky", ["k"], attempt=2)
    got = sorted(records(run_dir), key=lambda r: r["attempt"])
    assert [(r["attempt"], r["outcome"]) for r in got] == [(1, "error"), (2, "ok")]
    assert "FlakyFailure" in got[0]["error"]


def test_the_probe_runs_any_callable_and_records_its_attempt(run_dir: Path) -> None:
    """core.probe knows no workloads: it stamps, calls, stamps and records whatever it is given."""
    calls: list[int] = []
    probe.run("demo", "job-1", time.time_ns(), lambda: calls.append(1), attempt=3)
    [rec] = records(run_dir)
    assert calls == [1] and rec["attempt"] == 3 and rec["outcome"] == "ok"


def test_the_line_is_on_disk_before_run_returns(run_dir: Path) -> None:
    """No buffer to flush: another reader sees the record at once."""
    registry.prepare("noop", run_dir)
    registry.run_job("demo", "job-1", time.time_ns(), "noop", [])
    [path] = probe.records_dir(run_dir).glob("*.jsonl")
    assert json.loads(path.read_text().splitlines()[0])["job"] == "job-1"


def test_records_survive_a_sigkill_right_after_the_job(run_dir: Path) -> None:
    registry.prepare("noop", run_dir)
    script = textwrap.dedent(
        """
        import os, signal, time
        from workloads import registry
        for i in range(3):
            registry.run_job("demo", f"job-{i}", time.time_ns(), "noop", [])
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], env=dict(os.environ), timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert sorted(r["job"] for r in records(run_dir)) == ["job-0", "job-1", "job-2"]


def test_a_forked_child_writes_its_own_file(run_dir: Path) -> None:
    registry.prepare("noop", run_dir)
    registry.run_job("demo", "parent", time.time_ns(), "noop", [])
    pid = os.fork()
    if pid == 0:  # the child: record, then leave without running the parent's cleanup
        try:
            registry.run_job("demo", "child", time.time_ns(), "noop", [])
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    by_job = {r["job"]: r for r in records(run_dir)}
    assert by_job["child"]["pid"] == pid and by_job["parent"]["pid"] == os.getpid()
    assert (probe.records_dir(run_dir) / f"{pid}.jsonl").exists()


def test_without_a_run_directory_the_worker_says_so(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(probe.ENV_RUN_DIR)
    with pytest.raises(RuntimeError, match=probe.ENV_RUN_DIR):
        probe.record({"job": "x"})


# -- cost (pytest-benchmark) ------------------------------------------------------------------

ENTRY = {
    "system": "rq", "job": "0" * 32, "attempt": 1, "planned": 1_700_000_000_000_000_000,
    "start": 1_700_000_000_000_100_000, "end": 1_700_000_000_000_200_000, "outcome": "ok",
    "error": None, "pid": 12345,
}


@pytest.mark.benchmark(group="probe")
def test_cost_of_one_record(benchmark: Any, run_dir: Path) -> None:
    """probe.record: json.dumps + one os.write(2) on an O_APPEND descriptor."""
    benchmark(probe.record, ENTRY)
    assert records(run_dir)


@pytest.mark.benchmark(group="probe")
def test_cost_of_a_noop_attempt_through_the_probe(benchmark: Any, run_dir: Path) -> None:
    """registry.run_job (core.probe.run) around the noop workload: two clock reads, the workload lookup, the record."""
    registry.prepare("noop", run_dir)
    benchmark(registry.run_job, "rq", "0" * 32, time.time_ns(), "noop", [], 1)
    assert all(r["outcome"] == "ok" for r in records(run_dir))


@pytest.mark.benchmark(group="probe")
def test_cost_of_the_bare_write_floor(benchmark: Any, tmp_path: Path) -> None:
    """The floor the record is compared against: the same bytes, one os.write, no encoding."""
    line = (json.dumps(ENTRY, separators=(",", ":")) + "\n").encode()
    fd = os.open(tmp_path / "floor.jsonl", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        benchmark(os.write, fd, line)
    finally:
        os.close(fd)
    assert (tmp_path / "floor.jsonl").stat().st_size % len(line) == 0


def test_in_a_memory_cell_a_record_carries_the_job_process_memory(run_dir: Path) -> None:
    """With the memory flag in the run directory, a record holds the USS and PSS of the process
    that ran the job, read at the job's end: a job that touched 30 MiB shows them."""
    (run_dir / probe.MEMORY_FLAG).touch()
    script = textwrap.dedent(
        """
        from core import probe
        def job():
            global block
            block = bytearray(30 * 2**20)
            for i in range(0, len(block), 4096):
                block[i] = 1
        probe.run("demo", "big", 1, job)
        probe.run("demo", "small", 1, lambda: None)
        """
    )
    subprocess.run([sys.executable, "-c", script], env=dict(os.environ), timeout=60, check=True)
    by_job = {r["job"]: r for r in records(run_dir)}
    assert by_job["big"]["uss"] >= 30 * 2**20 and by_job["big"]["pss"] >= by_job["big"]["uss"] // 2
    assert "uss" in by_job["small"]


def test_without_the_flag_a_record_has_no_memory_fields(run_dir: Path) -> None:
    probe.run("demo", "job", 1, lambda: None)
    [rec] = records(run_dir)
    assert "uss" not in rec and "pss" not in rec
