"""The producer: a burst (everything enqueued at once) or paced open-loop arrivals.

Paced runs follow wrk2's rule against coordinated omission: the arrival times are computed
before the run (constant gaps, or Poisson: exponential gaps), each job carries its *planned*
arrival time in JobSpec.planned_ns, and a producer that falls behind sends late without moving
the plan, so the wait it caused is charged to the system. To keep up with the fastest system
(10,000+ jobs/s from one Python process), every job already due when the producer wakes goes
out in one round trip (the system's enqueue_many), and the producer sleeps until just before
the next planned time, then spins the last SPIN_S so it wakes on time. Every job's *lag* (its
push, just before the round trip, minus its planned time) is recorded: the generator's own
lateness, which a cell reports (p50 / p99 / max) so a late producer is seen, not hidden. The schedule is normalised so its span
is exactly (n-1)/rate: the achieved rate matches the target, and a Poisson schedule keeps its
coefficient of variation (scaling every gap by one constant does not change it).
Sparse for a polling worker (interval I) means more than I apart at random phases: a worker
restarts its sleep after each job, so only then does a job wait I/2 on average.
`polling_schedule` gives gaps of I + U(0, I) (the first arrival at U(0, I)), which makes every
arrival's phase in the worker's sleep uniform. Every loop is bounded by the job count and a
deadline.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from core.contract import JobSpec, System
from harness.metrics import inter_arrival_cv, quantile

Arrivals = Literal["poisson", "constant"]
LEAD_S = 0.05  # the first arrival is this far after the call: the plan starts in the future
SPIN_S = 0.0002  # spin the last 200 µs before a planned time: sleep() overshoots by ~50-100 µs
STOP_CHECK_S = 0.05  # a long sleep is cut into pieces this long to notice should_stop()


def schedule(rate: float, n: int, arrivals: Arrivals = "poisson", seed: int = 1,
             start_ns: int = 0) -> list[int]:
    """n planned arrival times (ns), the first at start_ns, spanning exactly (n-1)/rate seconds."""
    if rate <= 0 or n <= 0:
        raise ValueError(f"a schedule needs rate > 0 and n > 0 (got rate={rate}, n={n})")
    if n == 1:
        return [start_ns]
    if arrivals == "constant":
        gaps = [1.0] * (n - 1)
    elif arrivals == "poisson":
        rng = random.Random(seed)
        gaps = [rng.expovariate(1.0) for _ in range(n - 1)]
    else:
        raise ValueError(f"unknown arrivals {arrivals!r}; valid: poisson, constant")
    scale = ((n - 1) / rate) / sum(gaps)
    times, t = [start_ns], 0.0
    for gap in gaps:
        t += gap * scale
        times.append(start_ns + int(t * 1e9))
    return times


def polling_schedule(interval: float, n: int, seed: int = 1, start_ns: int = 0) -> list[int]:
    """n arrival times (ns) sparse for a worker polling every `interval` s: the first at
    start_ns + U(0, interval), then gaps of interval + U(0, interval), so each job finds the
    worker asleep at a uniformly random point of its sleep (mean wait interval / 2)."""
    if interval <= 0 or n <= 0:
        raise ValueError(f"a polling schedule needs interval > 0 and n > 0 (got {interval}, {n})")
    rng = random.Random(seed)
    t = rng.uniform(0, interval)
    times = [start_ns + int(t * 1e9)]
    for _ in range(n - 1):
        t += interval + rng.uniform(0, interval)
        times.append(start_ns + int(t * 1e9))
    return times


def plan_rate(plan: Sequence[int]) -> float | None:
    """The rate of a series of times in ns, planned or sent (jobs/s over its span); None below
    two arrivals or over no span."""
    if len(plan) < 2 or plan[-1] == plan[0]:
        return None
    return (len(plan) - 1) / ((plan[-1] - plan[0]) / 1e9)


@dataclass
class ProducerStats:
    """What the producer did: per job its planned time and its push (ns, wall clock, taken just
    before the round trip that carried it); per round trip its size."""

    planned: list[int] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    batches: list[int] = field(default_factory=list)
    target_rate: float | None = None
    stopped_early: bool = False

    @property
    def count(self) -> int:
        return len(self.sent)

    @property
    def achieved_rate(self) -> float | None:
        return plan_rate(self.sent)

    def lags_us(self) -> list[float]:
        """Each job's push minus its planned time (µs): the generator's own lateness."""
        return [(s - p) / 1000 for s, p in zip(self.sent, self.planned, strict=False)]

    @property
    def max_lag_us(self) -> float:
        """How far behind its plan the producer sent (µs): > 0 means it was itself a bottleneck."""
        return max(self.lags_us(), default=0.0)

    def lag_us(self) -> dict[str, float | None]:
        lags = self.lags_us()
        return {"p50": _rounded(quantile(lags, 0.5)), "p99": _rounded(quantile(lags, 0.99)),
                "max": _rounded(max(lags, default=None))}

    @property
    def cv(self) -> float | None:
        return inter_arrival_cv(self.sent)

    def describe(self) -> dict[str, Any]:
        rate = self.achieved_rate
        cv = self.cv
        return {"sent": self.count, "target_rate": self.target_rate,
                "achieved_rate": round(rate, 3) if rate else None,
                "inter_arrival_cv": round(cv, 3) if cv is not None else None,
                "lag_us": self.lag_us(), "max_lag_us": round(self.max_lag_us, 1),
                "round_trips": len(self.batches),
                "mean_batch": round(self.count / len(self.batches), 2) if self.batches else None,
                "stopped_early": self.stopped_early}


def _rounded(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


def burst(system: System, jobs: Sequence[JobSpec]) -> ProducerStats:
    """Enqueue every job at once (planned time = the moment of the burst)."""
    now = time.time_ns()
    for job in jobs:
        if job.planned_ns is None and not job.delay_s:
            job.planned_ns = now
    system.enqueue_many(jobs)
    return ProducerStats(planned=[j.resolve_planned() for j in jobs], sent=[now] * len(jobs),
                         batches=[len(jobs)])


def paced(
    send: Callable[[JobSpec], None],
    jobs: Sequence[JobSpec],
    rate: float,
    arrivals: Arrivals = "poisson",
    seed: int = 1,
    deadline_s: float | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    lead_s: float = LEAD_S,
    send_many: Callable[[list[JobSpec]], None] | None = None,
) -> ProducerStats:
    """Send each job at its planned time (open loop). Stops at the end of the jobs, at the
    deadline (default: twice the planned span plus 10 s), or when should_stop() says so."""
    return send_on_plan(send, jobs, schedule(rate, len(jobs), arrivals, seed), rate,
                        deadline_s, should_stop, lead_s, send_many)


def _wait_until(planned_ns: int, should_stop: Callable[[], bool]) -> bool:
    """Sleep until SPIN_S before `planned_ns`, then spin to it; False if asked to stop."""
    while True:
        wait = (planned_ns - time.time_ns()) / 1e9
        if wait <= 0:
            return True
        if wait > SPIN_S:
            time.sleep(min(wait - SPIN_S, STOP_CHECK_S))
            if should_stop():
                return False


def send_on_plan(
    send: Callable[[JobSpec], None],
    jobs: Sequence[JobSpec],
    offsets_ns: Sequence[int],
    target_rate: float | None,
    deadline_s: float | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    lead_s: float = LEAD_S,
    send_many: Callable[[list[JobSpec]], None] | None = None,
) -> ProducerStats:
    """Send job i at now + lead_s + offsets_ns[i] (open loop; a late send keeps its plan).
    With send_many, every job due at a wake-up goes out in one call (one round trip)."""
    start = time.time_ns() + int(lead_s * 1e9)
    plan = [start + int(o) for o in offsets_ns]
    span_s = (plan[-1] - start) / 1e9 if plan else 0.0
    limit = time.monotonic() + (deadline_s if deadline_s is not None else 2 * span_s + 10 + lead_s)
    stats = ProducerStats(target_rate=target_rate)
    i, n = 0, len(plan)
    while i < n:
        if not _wait_until(plan[i], should_stop) or should_stop() or time.monotonic() > limit:
            stats.stopped_early = True
            return stats
        now = time.time_ns()
        j = i + 1
        if send_many is not None:
            while j < n and plan[j] <= now:
                j += 1
        due = list(jobs[i:j])
        for job, planned in zip(due, plan[i:j], strict=True):
            job.planned_ns = planned
        pushed = time.time_ns()
        if len(due) == 1 or send_many is None:
            send(due[0])
        else:
            send_many(due)
        stats.planned.extend(plan[i:j])
        stats.sent.extend([pushed] * len(due))
        stats.batches.append(len(due))
        i = j
    return stats
