"""Figures from probe records: latency from the planned time, worker-side throughput, simple
and simple quantiles of small samples (the spread of repeats: core.summary).

Every time here comes from the probe (time.time_ns, CLOCK_REALTIME, in the worker) or from the
producer's schedule (the same clock, same host); no monotonic stamp is ever mixed in.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from harness import hdr

Record = dict[str, Any]


def quantile(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (0..1) by linear interpolation; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def latency_us(records: Iterable[Record]) -> list[float]:
    """Enqueue-to-start of each first attempt: worker start minus the planned time, in µs."""
    out = []
    for rec in first_attempts(records).values():
        if rec.get("planned") is not None:
            out.append((rec["start"] - rec["planned"]) / 1000)
    return out


def latency_summary(records: Iterable[Record]) -> tuple[dict[str, Any], list[list[float]], Any]:
    """(H, CDF points, histogram) of enqueue-to-start latency."""
    hist = hdr.from_values_us(latency_us(records))
    return hdr.summary(hist), hdr.cdf(hist), hist


def by_job(records: Iterable[Record]) -> dict[str, list[Record]]:
    """Records grouped by job id, each group ordered by start time."""
    groups: dict[str, list[Record]] = defaultdict(list)
    for rec in records:
        groups[rec["job"]].append(rec)
    for group in groups.values():
        group.sort(key=lambda r: r["start"])
    return dict(groups)


def first_attempts(records: Iterable[Record]) -> dict[str, Record]:
    return {job: group[0] for job, group in by_job(records).items()}


def throughput(records: Sequence[Record]) -> dict[str, float | int]:
    """Jobs completed per second, worker side: first start to last end of the given records."""
    ok = [r for r in records if r.get("outcome") == "ok"]
    if not ok:
        return {"completed": 0, "throughput_per_s": 0.0, "span_s": 0.0}
    first = min(r["start"] for r in ok)
    last = max(r["end"] for r in ok)
    span = max((last - first) / 1e9, 1e-9)
    return {"completed": len(ok), "throughput_per_s": len(ok) / span, "span_s": span}


def drop_warmup(records: Sequence[Record], warmup: int) -> list[Record]:
    """The records after the first `warmup` job starts (the discarded warm-up of a burst)."""
    ordered = sorted(records, key=lambda r: r["start"])
    return ordered[warmup:]


def inter_arrival_cv(times_ns: Sequence[int]) -> float | None:
    """Coefficient of variation of the gaps between arrivals (1 for a Poisson process)."""
    gaps = [b - a for a, b in zip(times_ns, times_ns[1:], strict=False)]
    if len(gaps) < 2:
        return None
    mean = statistics.fmean(gaps)
    return statistics.pstdev(gaps) / mean if mean else None
