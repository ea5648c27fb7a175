"""Benchmark of the Resque clone (not a test): no-op drain and idle enqueue-to-start latency.

    python -m comparisons.resque_clone.bench [--repeats 3] [--fork-jobs 1000] [--nofork-jobs 3000]

- drain: N no-op jobs enqueued, then one worker (interval 0.1 s) started; throughput is counted
  worker-side from the first job start to the last job end (measurement.md), forked and not.
- latency: one worker idle; jobs enqueued one at a time at random gaps (so arrivals fall at random
  points of the poll cycle); enqueue-to-start = probe start - planned time. Polling (interval
  0.1 s) against --blocking (BLPOP), each with and without fork, and the bare Redis hop
  (redis-py LPUSH -> BRPOP in another process) under the same arrivals.

Each figure is the median of --repeats runs with its min-max spread. Uses a private embedded
Redis, or REDIS_URL's database if it is empty or the suite's own (each drain empties it). Reference (real Resque 2.7.0, same kind of machine): 264 jobs/s forked, 1,240
without fork; idle latency interval/2 (p50 53 ms at 0.1 s).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from comparisons.resque_clone.adapter import ResqueCloneSystem
from core import probe
from core.contract import JobSpec, SystemConfig
from core.redis_server import claim_problem, redis_for_suite
from workloads import registry

DRAIN = {"fork": {"interval": 0.1, "fork": True}, "nofork": {"interval": 0.1, "fork": False}}
LATENCY = {
    "poll-0.1-fork": {"interval": 0.1, "fork": True},
    "poll-0.1-nofork": {"interval": 0.1, "fork": False},
    "blocking-fork": {"interval": 1.0, "fork": True, "blocking": True},
    "blocking-nofork": {"interval": 1.0, "fork": False, "blocking": True},
}


def _system(url: str, run_dir: Path, options: dict[str, Any]) -> ResqueCloneSystem:
    base = dict(ResqueCloneSystem.configs["interval-0.1"].options)
    return ResqueCloneSystem(url, run_dir, SystemConfig("bench", options={**base, **options}))


def _wait_records(run_dir: Path, n: int, timeout: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        recs = list(probe.read_records(run_dir))
        if len(recs) >= n:
            return recs
        time.sleep(0.05)
    raise TimeoutError(f"only {len(list(probe.read_records(run_dir)))} of {n} jobs ran in {timeout} s")


def drain_once(url: str, options: dict[str, Any], n: int) -> dict[str, float]:
    redis.Redis.from_url(url).flushdb()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        registry.prepare("noop", run_dir, {})
        system = _system(url, run_dir, options)
        system.enqueue_many(JobSpec(JobSpec.new_id(), "noop") for _ in range(n))
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time_ns()
        group = system.start("noop")
        try:
            recs = _wait_records(run_dir, n, timeout=max(60.0, n / 20))
        finally:
            system.stop(group)
            system.close()
        # the worker and every child it waited for, once the worker itself was reaped
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        first, last = min(r["start"] for r in recs), max(r["end"] for r in recs)
        return {"throughput_per_s": n / ((last - first) / 1e9), "wall_s": (last - t0) / 1e9,
                "cpu_ms_per_job": (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / n * 1e3,
                "page_faults_per_job": (after.ru_minflt - before.ru_minflt) / n}


def latency_once(url: str, options: dict[str, Any], n: int, rng: random.Random) -> dict[str, float]:
    redis.Redis.from_url(url).flushdb()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = Path(tmp)
        registry.prepare("noop", run_dir, {})
        system = _system(url, run_dir, options)
        group = system.start("noop")
        try:
            for _ in range(5):  # warm-up, discarded (by id: the record files stay in place)
                system.enqueue(JobSpec(JobSpec.new_id(), "noop"))
                time.sleep(0.15)
            warm = {r["job"] for r in _wait_records(run_dir, 5, 30)}
            for _ in range(n):
                time.sleep(rng.uniform(0.12, 0.3))  # idle between jobs: the worker is waiting
                system.enqueue(JobSpec(JobSpec.new_id(), "noop"))
            recs = [r for r in _wait_records(run_dir, n + 5, 30) if r["job"] not in warm]
        finally:
            system.stop(group)
            system.close()
        return _latency_summary(recs)


def hop_once(url: str, n: int, rng: random.Random) -> dict[str, float]:
    """The Redis hop under the same idle arrivals: a bare redis-py process BRPOPs, the time it
    woke minus the planned time the producer pushed (core.hop, the floor's own consumer)."""
    import subprocess

    from core import hop

    client = redis.Redis.from_url(url)
    client.flushdb()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "hop.jsonl"
        proc = subprocess.Popen([sys.executable, "-m", "core.hop", url, hop.KEY, str(out),
                                 "--count", str(n + 5)], stdin=subprocess.DEVNULL)
        try:
            time.sleep(0.5)  # the consumer is up and blocked before the first push
            for _ in range(n + 5):
                time.sleep(rng.uniform(0.12, 0.3))
                client.lpush(hop.KEY, time.time_ns())
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        recs = [json.loads(line) for line in out.read_text().splitlines()][5:]  # warm-up dropped
    return _latency_summary(recs)


def _latency_summary(recs: list[dict[str, Any]]) -> dict[str, float]:
    """p50, p99 and mean of start - planned, in microseconds."""
    lat = sorted((r["start"] - r["planned"]) / 1e3 for r in recs)
    return {"p50_us": statistics.median(lat), "p99_us": lat[min(len(lat) - 1, int(len(lat) * 0.99))],
            "mean_us": statistics.fmean(lat)}


def fork_floor(n: int = 300) -> dict[str, float]:
    """fork + exit + wait per second from this process (the worker's size: redis-py, probe and
    workload loaded), and from Ruby with the redis gem when Ruby is here: the ceiling any
    fork-per-job worker can reach on this machine right now."""
    import shutil
    import subprocess

    import comparisons.resque_clone.probe_job  # noqa: F401 - the worker's imports

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    for _ in range(n):
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = {"python_forks_per_s": n / elapsed,
           "python_fork_child_cpu_ms": (after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime) / n * 1e3,
           "python_fork_child_page_faults": (after.ru_minflt - before.ru_minflt) / n}
    if shutil.which("ruby"):
        script = (f"begin; require 'redis'; rescue LoadError; end; t = Time.now; "
                  f"{n}.times {{ Process.wait(fork {{ exit! }}) }}; print({n} / (Time.now - t))")
        done = subprocess.run(["ruby", "-e", script], capture_output=True, text=True, timeout=120)
        if done.returncode == 0 and done.stdout:
            out["ruby_forks_per_s"] = float(done.stdout)
    return out


def summarize(runs: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    return {k: {"median": statistics.median(r[k] for r in runs), "min": min(r[k] for r in runs),
                "max": max(r[k] for r in runs)} for k in runs[0]}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m comparisons.resque_clone.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--fork-jobs", type=int, default=600)
    p.add_argument("--nofork-jobs", type=int, default=3000)
    p.add_argument("--latency-jobs", type=int, default=40)
    p.add_argument("--only", choices=["drain", "latency"], default=None)
    p.add_argument("--json", type=Path, help="also write the results here")
    args = p.parse_args(argv)
    rng = random.Random(1)
    results: dict[str, Any] = {"drain": {}, "latency": {}, "fork_floor": {}}
    with redis_for_suite() as url:
        problem = claim_problem(url)  # a REDIS_URL database must be empty or ours: drains empty it
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        if args.only in (None, "drain"):
            # interleaved, so each repeat's drain and fork floor see the same machine load
            floors: list[dict[str, float]] = []
            drains: dict[str, list[Any]] = {name: [] for name in DRAIN}
            for _ in range(args.repeats):
                floors.append(fork_floor())
                for name, options in DRAIN.items():
                    n = args.fork_jobs if options["fork"] else args.nofork_jobs
                    drains[name].append(drain_once(url, options, n))
            results["fork_floor"] = summarize(floors)
            for k, v in results["fork_floor"].items():
                print(f"floor {k:18s} {v['median']:8.1f} /s (min {v['min']:.1f}, max {v['max']:.1f})",
                      flush=True)
            for name, options in DRAIN.items():
                n = args.fork_jobs if options["fork"] else args.nofork_jobs
                results["drain"][name] = {"jobs": n, **summarize(drains[name])}
                s = results["drain"][name]["throughput_per_s"]
                c, f = results["drain"][name]["cpu_ms_per_job"], results["drain"][name]["page_faults_per_job"]
                print(f"drain {name:8s} {n:5d} jobs: {s['median']:8.1f} jobs/s "
                      f"(min {s['min']:.1f}, max {s['max']:.1f}); CPU {c['median']:.2f} ms/job, "
                      f"{f['median']:.0f} page faults/job", flush=True)
            ratios = [d["throughput_per_s"] / f["python_forks_per_s"] for d, f in zip(drains["fork"], floors, strict=True)]
            results["drain"]["fork"]["share_of_python_fork_floor"] = statistics.median(ratios)
            print(f"drain fork / python fork floor (same repeat): median {statistics.median(ratios):.2f}",
                  flush=True)
        if args.only in (None, "latency"):
            cases: dict[str, dict[str, Any] | None] = {"redis-hop": None, **LATENCY}
            for name, case in cases.items():
                runs = [hop_once(url, args.latency_jobs, rng) if case is None
                        else latency_once(url, case, args.latency_jobs, rng)
                        for _ in range(args.repeats)]
                results["latency"][name] = summarize(runs)
                s, q = results["latency"][name]["p50_us"], results["latency"][name]["p99_us"]
                print(f"idle latency {name:16s} p50 {s['median'] / 1e3:7.2f} ms "
                      f"(min {s['min'] / 1e3:.2f}, max {s['max'] / 1e3:.2f}); "
                      f"p99 {q['median'] / 1e3:7.2f} ms", flush=True)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
