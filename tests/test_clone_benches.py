"""The clones' own benchmarks run as a user runs them, and never wipe a database they do not own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def bench(module: str, redis_url: str, *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "REDIS_URL": redis_url}
    return subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("module", ["comparisons.resque_clone.bench", "comparisons.sidekiq_clone.bench"])
def test_a_bench_refuses_a_database_holding_someone_elses_keys(module, redis_url, redis_client):
    redis_client.set("app:users:1", "alice")
    done = bench(module, redis_url, "--repeats", "1")
    assert done.returncode == 2, done.stdout + done.stderr
    assert "holds keys queuebench did not write" in done.stderr
    assert redis_client.get("app:users:1") == b"alice"


def test_the_resque_bench_reports_every_figure(redis_url, tmp_path):
    out = tmp_path / "bench.json"
    done = bench("comparisons.resque_clone.bench", redis_url, "--repeats", "1", "--fork-jobs", "40",
                 "--nofork-jobs", "40", "--latency-jobs", "2", "--json", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    results = json.loads(out.read_text())
    for name in ("fork", "nofork"):
        assert results["drain"][name]["throughput_per_s"]["median"] > 0
    assert results["fork_floor"]["python_forks_per_s"]["median"] > 0
    assert set(results["latency"]) == {"redis-hop", "poll-0.1-fork", "poll-0.1-nofork",
                                       "blocking-fork", "blocking-nofork"}
    assert all(v["p50_us"]["median"] > 0 for v in results["latency"].values())
    assert "drain fork" in done.stdout and "idle latency redis-hop" in done.stdout
