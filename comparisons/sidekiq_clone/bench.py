"""Benchmark: the clone against real Sidekiq 6.4.1, one process x 10 threads, same Redis.

    python -m comparisons.sidekiq_clone.bench [--jobs 100000] [--repeats 3] [--latency 300]

For each repeat and each system: 1) drain: push N no-op jobs, start the server, and time from
the first pop to the empty queue (LLEN sampled every 2 ms, the same for both); 2) idle latency:
with the server idle, push one job at a time stamped with time.time_ns(); the job writes
(start - stamp) to a list the bench BLPOPs. Reports the median of the repeats with min-max.
Real Sidekiq runs as `sidekiq -r tests/ruby/bench_worker.rb -c 10 -q bench` (logging a line
at the start and end of every job, its default; --quiet-ruby turns that off, as the clone logs
per job only with -v); it is skipped with a message when Ruby or the gem is missing.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from comparisons.sidekiq_clone import keys
from comparisons.sidekiq_clone.client import Client
from comparisons.sidekiq_clone.worker import Worker

ROOT = Path(__file__).resolve().parents[2]
RUBY_WORKER = ROOT / "tests" / "ruby" / "bench_worker.rb"
QUEUE = "bench"
LAT_KEY = "bench:lat"


class BenchNoop(Worker):
    sidekiq_options = {"queue": QUEUE}

    def perform(self, *args: Any) -> None:
        return None


class BenchLatency(Worker):
    sidekiq_options = {"queue": QUEUE}

    def perform(self, pushed_ns: int) -> None:
        started = time.time_ns()
        from comparisons.sidekiq_clone import connection

        connection.client().rpush(LAT_KEY, started - pushed_ns)


QUIET_RUBY = {"on": False}


def server_argv(system: str, url: str, concurrency: int) -> tuple[list[str], dict[str, str]]:
    env = dict(os.environ, REDIS_URL=url, PYTHONUNBUFFERED="1")
    if QUIET_RUBY["on"]:
        env["BENCH_QUIET"] = "1"
    if system == "sidekiq_clone":
        return [sys.executable, "-m", "comparisons.sidekiq_clone", "-r",
                "comparisons.sidekiq_clone.bench", "-c", str(concurrency), "-q", QUEUE], env
    return ["sidekiq", "-r", str(RUBY_WORKER), "-c", str(concurrency), "-q", QUEUE], env


def ruby_sidekiq_available() -> str | None:
    """None when real Sidekiq can run here, else the reason it cannot."""
    if not shutil.which("ruby") or not shutil.which("sidekiq"):
        return "ruby or the sidekiq executable is not installed (apt-get install ruby-sidekiq)"
    probe = subprocess.run(["ruby", "-e", 'require "sidekiq"; print Sidekiq::VERSION'],
                           capture_output=True, text=True, timeout=60)
    if probe.returncode != 0:
        return f"the sidekiq gem does not load: {probe.stderr.strip()[:200]}"
    return None


def start_server(system: str, url: str, concurrency: int, log: Path) -> subprocess.Popen[bytes]:
    from core.procs import die_with_parent

    argv, env = server_argv(system, url, concurrency)
    with open(log, "ab") as fh:
        return subprocess.Popen(argv, env=env, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT,
                                stdin=subprocess.DEVNULL, preexec_fn=die_with_parent)


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    from core.procs import stop_tree

    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    stop_tree([proc.pid], signal.SIGKILL, timeout=5)
    proc.wait()


def drain(r: redis.Redis, url: str, system: str, n: int, concurrency: int,
          log: Path) -> tuple[float, subprocess.Popen[bytes]]:
    """Jobs/s from first pop to empty queue; returns the still-running server too."""
    r.flushdb()
    client = Client(r)
    for i in range(0, n, 1000):
        client.push_bulk({"class": "BenchNoop", "queue": QUEUE,
                          "args": [[j] for j in range(i, min(n, i + 1000))]})
    qkey = keys.queue(QUEUE)
    assert r.llen(qkey) == n
    proc = start_server(system, url, concurrency, log)
    deadline = time.monotonic() + 60 + n / 1000
    first = None
    while True:
        left = r.llen(qkey)
        t = time.perf_counter()
        if first is None and left < n:
            first = t
        if left == 0:
            break
        if proc.poll() is not None or time.monotonic() > deadline:
            stop_server(proc)
            raise RuntimeError(f"{system} did not drain the queue ({left} left); see {log}")
        time.sleep(0.002)
    assert first is not None
    return n / max(t - first, 1e-9), proc


def idle_latency(r: redis.Redis, samples: int) -> list[float]:
    """Enqueue-to-start latencies (ms) of one job at a time against an idle server."""
    client = Client(r)
    r.delete(LAT_KEY)
    out = []
    for _ in range(samples):
        time.sleep(random.uniform(0.005, 0.015))  # let every thread sit in BRPOP again
        client.push({"class": "BenchLatency", "queue": QUEUE, "args": [time.time_ns()]})
        got = r.blpop([LAT_KEY], timeout=10)
        if got is None:
            raise RuntimeError("a latency job did not run within 10 s")
        out.append(int(got[1]) / 1e6)
    return out


def pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(p / 100 * len(s)))]


def spread(values: list[float]) -> str:
    return (f"{statistics.median(values):,.2f} (min {min(values):,.2f} - max {max(values):,.2f})")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--jobs", type=int, default=100_000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--latency", type=int, default=300, help="latency samples per repeat")
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--systems", default="sidekiq_clone,sidekiq")
    ap.add_argument("--quiet-ruby", action="store_true",
                    help="real Sidekiq without its start/done log line per job")
    args = ap.parse_args(argv)
    QUIET_RUBY["on"] = args.quiet_ruby
    from core.redis_server import claim_problem, redis_for_suite

    systems = args.systems.split(",")
    if "sidekiq" in systems:
        reason = ruby_sidekiq_available()
        if reason:
            print(f"real Sidekiq skipped: {reason}")
            systems.remove("sidekiq")
    results: dict[str, dict[str, list[float]]] = {s: {"rate": [], "p50": [], "p99": []}
                                                  for s in systems}
    logs = Path(tempfile.mkdtemp(prefix="sidekiq-bench-"))
    with redis_for_suite() as url:
        problem = claim_problem(url)  # a REDIS_URL database must be empty or ours: drains empty it
        if problem:
            print(f"error: {problem}", file=sys.stderr)
            return 2
        r = redis.Redis.from_url(url)
        for rep in range(args.repeats):
            for system in systems:
                log = logs / f"{system}-{rep}.log"
                rate, proc = drain(r, url, system, args.jobs, args.concurrency, log)
                try:
                    lat = idle_latency(r, args.latency)
                finally:
                    stop_server(proc)
                results[system]["rate"].append(rate)
                results[system]["p50"].append(pct(lat, 50))
                results[system]["p99"].append(pct(lat, 99))
                print(f"repeat {rep + 1} {system:14s} drain {rate:9,.0f} jobs/s  idle p50 "
                      f"{pct(lat, 50):.3f} ms  p99 {pct(lat, 99):.3f} ms", flush=True)
        r.close()
    print(f"\n{args.jobs:,} no-op jobs, 1 process x {args.concurrency} threads, "
          f"median of {args.repeats} (min - max); logs in {logs}")
    for system, res in results.items():
        print(f"{system:14s} drain jobs/s {spread(res['rate'])}   idle p50 ms "
              f"{spread(res['p50'])}   p99 ms {spread(res['p99'])}")
    if len(results) == 2:
        clone, real = results["sidekiq_clone"], results["sidekiq"]
        print(f"ratio clone/real: drain {statistics.median(clone['rate']) / statistics.median(real['rate']):.2f}x, "
              f"idle p50 {statistics.median(clone['p50']) / statistics.median(real['p50']):.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
