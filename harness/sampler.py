"""Memory of a whole worker tree, sampled every 100 ms in a background thread.

Each sample sums USS, PSS and RSS over the worker processes and every descendant they forked
(psutil's memory_full_info reads /proc/<pid>/smaps). USS is what the tree alone holds, PSS shares
each shared page among the processes mapping it, and RSS double-counts copy-on-write pages of
forked children: the report shows all three and says so when RSS and PSS differ.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from core import procs

INTERVAL_S = 0.1


@dataclass(frozen=True)
class Sample:
    t_ns: int
    uss: int
    pss: int
    rss: int
    processes: int

    def describe(self) -> dict[str, int]:
        return {"uss": self.uss, "pss": self.pss, "rss": self.rss, "processes": self.processes}


def measure(root_pids: list[int]) -> Sample:
    """One sample of the trees under root_pids (processes vanishing mid-walk are skipped)."""
    seen: set[int] = set()
    uss = pss = rss = count = 0
    for root in root_pids:
        for proc in procs.tree(root):
            if proc.pid in seen:
                continue
            seen.add(proc.pid)
            try:
                if proc.status() == psutil.STATUS_ZOMBIE:
                    continue
                info = proc.memory_full_info()
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                continue
            uss += info.uss
            pss += getattr(info, "pss", 0)
            rss += info.rss
            count += 1
    return Sample(time.time_ns(), uss, pss, rss, count)


class MemorySampler:
    """Samples root_pids() every `interval` seconds until stop(); use as a context manager."""

    def __init__(self, root_pids: Callable[[], list[int]], interval: float = INTERVAL_S) -> None:
        self.root_pids = root_pids
        self.interval = interval
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="memory-sampler", daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            sample = measure(self.root_pids())
            if sample.processes:
                self.samples.append(sample)
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def start(self) -> MemorySampler:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def __enter__(self) -> MemorySampler:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def peak(self, since_ns: int = 0) -> Sample | None:
        """The sample with the largest USS (taken at or after since_ns)."""
        chosen = [s for s in self.samples if s.t_ns >= since_ns]
        return max(chosen, key=lambda s: s.uss, default=None)

    def median(self, since_ns: int = 0, until_ns: int | None = None) -> Sample | None:
        """The middle sample by USS of a window (a steady-state figure such as 'idle')."""
        chosen = sorted(
            (s for s in self.samples if s.t_ns >= since_ns and (until_ns is None or s.t_ns <= until_ns)),
            key=lambda s: s.uss,
        )
        return chosen[len(chosen) // 2] if chosen else None
