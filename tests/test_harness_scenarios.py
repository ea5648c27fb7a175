"""Pieces of the scenarios on real processes: the memory sampler over a forked tree, finding a
worker's forked child, the crash classification, the threads / processes / fork model."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from core import procs
from core.contract import Registries, SystemConfig, WorkerGroup
from harness.sampler import MemorySampler, measure
from harness.scenarios import crash, memory
from harness.scenarios.common import scaled

FORKER = """
import os, time
block = bytearray(40 * 2**20)  # 40 MiB touched by the parent before the fork
for i in range(0, len(block), 4096): block[i] = 1
if os.fork() == 0:
    time.sleep(30); os._exit(0)
print("ready", flush=True)
time.sleep(30)
"""


@pytest.fixture
def forker() -> object:
    proc = subprocess.Popen([sys.executable, "-c", FORKER], stdout=subprocess.PIPE, text=True,
                            preexec_fn=procs.die_with_parent)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        procs.stop_tree([proc.pid], timeout=5)
        proc.wait()


def test_memory_of_a_forked_tree_sums_uss_pss_rss(forker: subprocess.Popen) -> None:
    sample = measure([forker.pid])
    assert sample.processes == 2
    assert sample.rss > 80 * 2**20  # both map the 40 MiB: RSS counts it twice
    assert 40 * 2**20 < sample.pss < sample.rss  # PSS shares the copy-on-write pages
    assert sample.uss < sample.pss


def test_sampler_samples_every_100_ms_in_a_thread(forker: subprocess.Popen) -> None:
    with MemorySampler(lambda: [forker.pid]) as sampler:
        time.sleep(0.55)
    assert 4 <= len(sampler.samples) <= 7
    assert sampler.peak() is not None and sampler.median() is not None


def test_forked_children_are_found_under_the_worker(forker: subprocess.Popen) -> None:
    group = WorkerGroup([forker], "x", SystemConfig())
    children = crash.forked_children(group)
    assert len(children) == 1 and children[0] != forker.pid


def rec(job: str, outcome: str = "ok") -> dict:
    return {"job": job, "outcome": outcome, "start": 1, "end": 2}


def test_crash_classification_puts_every_job_in_one_bin() -> None:
    records = [rec("a"), rec("b"), rec("b"), rec("c", "error")]
    regs = Registries(failed=["c"], retry=["d"])
    counts, states = crash.account(["a", "b", "c", "d", "e", "f"], records, regs, queued=1)
    assert states == {"a": "completed", "b": "duplicate", "c": "failed", "d": "pending",
                      "e": "pending", "f": "lost"}
    assert counts == {"completed": 1, "duplicate": 1, "failed": 1, "pending": 2, "lost": 1}


def span(pid: int, start: int, end: int) -> dict:
    return {"pid": pid, "start": start, "end": end}


def test_model_is_read_from_the_records() -> None:
    assert memory.model([span(10 + i, i, i + 1) for i in range(6)], [1], 2) == "fork-per-job"
    assert memory.model([span(5, 0, 2), span(6, 1, 3)], [1], 3) == "processes"
    assert memory.model([span(1, 0, 2), span(1, 1, 3)], [1], 1) == "threads"
    assert memory.model([span(1, 0, 1), span(2, 1, 2)], [1, 2], 2) == "processes"


def test_scaling_keeps_the_systems_unit() -> None:
    threads = SystemConfig("t", processes=1, concurrency=10)
    forks = SystemConfig("f", processes=1, concurrency=1)
    assert (scaled(threads, 4).processes, scaled(threads, 4).concurrency) == (1, 4)
    assert (scaled(forks, 4).processes, scaled(forks, 4).concurrency) == (4, 1)
