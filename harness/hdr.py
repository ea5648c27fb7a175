"""HDR latency histograms: 1 µs .. 1 h at 3 significant digits (measurement.md).

A thin layer over the `hdrhistogram` package: record microseconds (clamped into range, never
dropped), summarize as H = {count, min, p50, p90, p99, p99_9, max, mean}, produce at most 200 CDF
points for plots, and save / load the compressed form next to the results.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from hdrh.histogram import HdrHistogram

LOWEST_US = 1
HIGHEST_US = 3600 * 1_000_000
SIGNIFICANT_DIGITS = 3
CDF_POINTS = 200


def new() -> HdrHistogram:
    return HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)


def record_us(hist: HdrHistogram, value_us: float) -> None:
    """Record one value in µs; below 1 µs counts as 1 µs, above 1 h as 1 h (no value is lost)."""
    hist.record_value(int(min(max(round(value_us), LOWEST_US), HIGHEST_US)))


def from_values_us(values: Iterable[float]) -> HdrHistogram:
    hist = new()
    for value in values:
        record_us(hist, value)
    return hist


def summary(hist: HdrHistogram) -> dict[str, Any]:
    """H: count, min, p50, p90, p99, p99_9, max (µs, ints) and mean (µs, float)."""
    count = int(hist.get_total_count())
    if count == 0:
        return {"count": 0, "min": None, "p50": None, "p90": None, "p99": None,
                "p99_9": None, "max": None, "mean": None}
    return {
        "count": count,
        "min": int(hist.get_min_value()),
        "p50": int(hist.get_value_at_percentile(50)),
        "p90": int(hist.get_value_at_percentile(90)),
        "p99": int(hist.get_value_at_percentile(99)),
        "p99_9": int(hist.get_value_at_percentile(99.9)),
        "max": int(hist.get_max_value()),
        "mean": round(float(hist.get_mean_value()), 1),
    }


def cdf(hist: HdrHistogram, points: int = CDF_POINTS) -> list[list[float]]:
    """[[µs, fraction <= µs], ...], at most `points` pairs, always ending at the maximum."""
    total = hist.get_total_count()
    if not total:
        return []
    pairs = [
        [int(item.value_iterated_to), round(item.total_count_to_this_value / total, 6)]
        for item in hist.get_recorded_iterator()
    ]
    if len(pairs) <= points:
        return pairs
    step = (len(pairs) - 1) / (points - 1)
    return [pairs[round(i * step)] for i in range(points)]


def save(hist: HdrHistogram, path: Path) -> None:
    """The compressed, base64 HDR encoding (readable by any HdrHistogram implementation)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(hist.encode())


def load(path: Path) -> HdrHistogram:
    return HdrHistogram.decode(path.read_bytes())
