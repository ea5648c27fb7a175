"""The producer: a burst (everything enqueued at once) or paced open-loop arrivals.

Paced runs follow wrk2's rule against coordinated omission: the arrival times are computed
before the run (constant gaps, or Poisson: exponential gaps), each job carries its *planned*
arrival time in JobSpec.planned_ns, and a producer that falls behind sends late without moving
the plan, so the wait it caused is charged to the system. The schedule is normalised so its span
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
from typing import Literal

from core.contract import JobSpec, System
from harness.metrics import inter_arrival_cv

Arrivals = Literal["poisson", "constant"]


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
    """What the producer did: planned and actual send times (ns, wall clock)."""

    planned: list[int] = field(default_factory=list)
    sent: list[int] = field(default_factory=list)
    target_rate: float | None = None
    stopped_early: bool = False

    @property
    def count(self) -> int:
        return len(self.sent)

    @property
    def achieved_rate(self) -> float | None:
        return plan_rate(self.sent)

    @property
    def max_lag_us(self) -> float:
        """How far behind its plan the producer sent (µs): > 0 means it was itself a bottleneck."""
        return max(((s - p) / 1000 for s, p in zip(self.sent, self.planned, strict=False)),
                   default=0.0)

    @property
    def cv(self) -> float | None:
        return inter_arrival_cv(self.sent)

    def describe(self) -> dict[str, float | int | None]:
        rate = self.achieved_rate
        cv = self.cv
        return {"sent": self.count, "target_rate": self.target_rate,
                "achieved_rate": round(rate, 3) if rate else None,
                "inter_arrival_cv": round(cv, 3) if cv is not None else None,
                "max_lag_us": round(self.max_lag_us, 1), "stopped_early": self.stopped_early}


def burst(system: System, jobs: Sequence[JobSpec]) -> ProducerStats:
    """Enqueue every job at once (planned time = the moment of the burst)."""
    now = time.time_ns()
    for job in jobs:
        if job.planned_ns is None and not job.delay_s:
            job.planned_ns = now
    system.enqueue_many(jobs)
    return ProducerStats(planned=[j.resolve_planned() for j in jobs], sent=[now] * len(jobs))


def paced(
    send: Callable[[JobSpec], None],
    jobs: Sequence[JobSpec],
    rate: float,
    arrivals: Arrivals = "poisson",
    seed: int = 1,
    deadline_s: float | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    lead_s: float = 0.05,
) -> ProducerStats:
    """Send each job at its planned time (open loop). Stops at the end of the jobs, at the
    deadline (default: twice the planned span plus 10 s), or when should_stop() says so."""
    return send_on_plan(send, jobs, schedule(rate, len(jobs), arrivals, seed), rate,
                        deadline_s, should_stop, lead_s)


def send_on_plan(
    send: Callable[[JobSpec], None],
    jobs: Sequence[JobSpec],
    offsets_ns: Sequence[int],
    target_rate: float | None,
    deadline_s: float | None = None,
    should_stop: Callable[[], bool] = lambda: False,
    lead_s: float = 0.05,
) -> ProducerStats:
    """Send job i at now + lead_s + offsets_ns[i] (open loop; a late send keeps its plan)."""
    start = time.time_ns() + int(lead_s * 1e9)
    plan = [start + int(o) for o in offsets_ns]
    span_s = (plan[-1] - start) / 1e9 if plan else 0.0
    limit = time.monotonic() + (deadline_s if deadline_s is not None else 2 * span_s + 10 + lead_s)
    stats = ProducerStats(target_rate=target_rate)
    for job, planned in zip(jobs, plan, strict=True):
        while True:
            wait = (planned - time.time_ns()) / 1e9
            if wait <= 0:
                break
            time.sleep(min(wait, 0.05))
            if should_stop():
                stats.stopped_early = True
                return stats
        if should_stop() or time.monotonic() > limit:
            stats.stopped_early = True
            return stats
        job.planned_ns = planned
        send(job)
        stats.planned.append(planned)
        stats.sent.append(time.time_ns())
    return stats
