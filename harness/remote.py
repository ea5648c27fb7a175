"""The coordinator's side of agents on several hosts: clocks, placement, calls, corrections.

- Clock offset, NTP-style: ask the agent for its time several times; for each round trip
  (t0 sent, t1 the agent's clock, t3 answer back, coordinator clock) the offset is
  t1 - (t0 + t3) / 2 and its uncertainty half the round trip. The smallest round trip wins.
- Placement: a cell's worker units (processes) spread over the agents round-robin.
- Correction: records handed back carry start / end on the agent's clock; subtracting the offset
  puts them on the coordinator's, where the producer's planned times are.
- A cell whose clock uncertainty is large against its p50 latency is flagged: its latencies say
  more about the clocks than about the queue.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from typing import Any

from celery import Celery

from core.errors import UsageError
from harness import agent

FLAG_RATIO = 0.1  # uncertainty above this share of p50 flags the cell
ROUNDS = 8


@dataclass(frozen=True)
class ClockEstimate:
    offset_ns: int  # agent clock minus coordinator clock
    uncertainty_ns: int  # half the smallest round trip
    rtt_ns: int
    rounds: int

    def describe(self) -> dict[str, int]:
        return asdict(self)


def estimate_offset(ask: Callable[[], int], rounds: int = ROUNDS,
                    now: Callable[[], int] = time.time_ns) -> ClockEstimate:
    """The offset of the clock `ask` reads, from the sample with the smallest round trip."""
    if rounds < 1:
        raise ValueError(f"a clock estimate needs at least 1 round trip (got {rounds})")
    best: tuple[int, int] | None = None
    for _ in range(rounds):
        t0 = now()
        t1 = ask()
        t3 = now()
        rtt = t3 - t0
        if best is None or rtt < best[0]:
            best = (rtt, t1 - (t0 + t3) // 2)
    assert best is not None
    return ClockEstimate(offset_ns=best[1], uncertainty_ns=best[0] // 2, rtt_ns=best[0],
                         rounds=rounds)


def place(units: int, hosts: list[str]) -> dict[str, int]:
    """units worker processes over hosts, round-robin; hosts left without one are left out."""
    if not hosts:
        raise ValueError("placement needs at least one agent")
    if units < 1:
        raise ValueError(f"placement needs at least one worker unit (got {units})")
    out = {h: units // len(hosts) + (1 if i < units % len(hosts) else 0)
           for i, h in enumerate(hosts)}
    return {h: n for h, n in out.items() if n}


def correct(records: Iterable[dict[str, Any]], offset_ns: int) -> list[dict[str, Any]]:
    """Records with start / end moved from the agent's clock onto the coordinator's."""
    out = []
    for record in records:
        fixed = dict(record)
        fixed["start"] = record["start"] - offset_ns
        fixed["end"] = record["end"] - offset_ns
        out.append(fixed)
    return out


def flagged(uncertainty_ns: int, latencies_ns: list[int], ratio: float = FLAG_RATIO) -> bool:
    """True when the clock uncertainty exceeds `ratio` of the cell's p50 latency."""
    if not latencies_ns:
        return False
    p50 = statistics.median(latencies_ns)
    return uncertainty_ns > ratio * max(p50, 1)


class Agents:
    """The agents of a run, reached through the control broker."""

    def __init__(self, control_url: str, hosts: list[str], timeout: float = 60.0) -> None:
        if not hosts:
            raise ValueError("--agents needs at least one host name")
        self.hosts = list(hosts)
        self.timeout = timeout
        self.app = agent.configure(Celery("queuebench-coordinator"), control_url)
        self.clocks: dict[str, ClockEstimate] = {}

    def call(self, host: str, task: str, *args: Any, timeout: float | None = None) -> Any:
        result = self.app.send_task(agent.TASK_PREFIX + task, args=list(args),
                                    queue=agent.queue(host))
        try:
            return result.get(timeout=timeout or self.timeout)
        finally:
            result.forget()

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until every agent answers a clock call; a silent one is an error naming it."""
        for host in self.hosts:
            try:
                self.call(host, "clock", timeout=timeout)
            except Exception as exc:
                raise UsageError(f"agent {host!r} did not answer on queue "
                                   f"{agent.queue(host)} within {timeout:.0f} s: {exc!r}") from exc

    def estimate_clocks(self, rounds: int = ROUNDS) -> dict[str, ClockEstimate]:
        for host in self.hosts:
            def ask(h: str = host) -> int:
                return int(self.call(h, "clock"))
            self.clocks[host] = estimate_offset(ask, rounds)
        return self.clocks

    def start(self, cell: str, system: str, config: str, units: int, redis_url: str,
              workload: str, hosts: list[str] | None = None) -> dict[str, int]:
        """Start the cell's worker units spread over the agents (or the given few of them);
        returns the placement."""
        placement = place(units, list(hosts or self.hosts))
        started: list[str] = []
        try:
            for host, n in placement.items():
                self.call(host, "start", cell, system, config, n, redis_url, workload)
                started.append(host)
        except BaseException:
            for host in started:
                self.call(host, "stop", cell, False)
            raise
        return placement

    def done(self, cell: str, placement: dict[str, int]) -> int:
        """Jobs of the cell completed so far, over its hosts (counts only)."""
        return sum(int(self.call(host, "done", cell)) for host in placement)

    def stop(self, cell: str, placement: dict[str, int], graceful: bool = True
             ) -> tuple[list[dict[str, Any]], dict[str, list[dict[str, Any]]]]:
        """Stop the cell everywhere; its records on the coordinator's clock, and memory per host."""
        records: list[dict[str, Any]] = []
        memory: dict[str, list[dict[str, Any]]] = {}
        for host in placement:
            out = self.call(host, "stop", cell, graceful)
            offset = self.clocks[host].offset_ns if host in self.clocks else 0
            records.extend(correct(out["records"], offset))
            memory[host] = [{**s, "t": s["t"] - offset} for s in out["memory"]]
        return records, memory

    def describe(self) -> dict[str, Any]:
        """For results.json: the agents and each one's clock offset and uncertainty."""
        return {"hosts": self.hosts,
                "clocks": {h: c.describe() for h, c in self.clocks.items()}}

    def close(self) -> None:
        self.app.close()


_ACTIVE: list[Agents] = []


def activate(agents: Agents | None) -> None:
    """The run's agents (queuebench run --agents), for the scenarios that place workers on them."""
    _ACTIVE.clear()
    if agents is not None:
        _ACTIVE.append(agents)


def active() -> Agents | None:
    return _ACTIVE[0] if _ACTIVE else None
