"""HDR histograms and the figures computed from probe records."""

from __future__ import annotations

from pathlib import Path

import pytest

from core import registry, summary
from harness import hdr, metrics


def test_hdr_summary_has_every_percentile_within_three_digits() -> None:
    hist = hdr.from_values_us(range(1, 10001))
    h = hdr.summary(hist)
    assert set(h) == {"count", "min", "p50", "p90", "p99", "p99_9", "max", "mean"}
    assert h["count"] == 10000
    assert h["p50"] == pytest.approx(5000, rel=0.001)
    assert h["p99"] == pytest.approx(9900, rel=0.001)
    assert h["max"] == pytest.approx(10000, rel=0.001)


def test_hdr_clamps_out_of_range_values_instead_of_dropping_them() -> None:
    hist = hdr.from_values_us([-5, 0, 10 * 3600 * 1e6])
    h = hdr.summary(hist)
    assert h["count"] == 3 and h["min"] == 1
    assert h["max"] == pytest.approx(3600e6, rel=0.001)


def test_cdf_is_bounded_monotonic_and_ends_at_one() -> None:
    cdf = hdr.cdf(hdr.from_values_us(range(1, 100000, 7)))
    assert len(cdf) <= 200
    assert [p[0] for p in cdf] == sorted(p[0] for p in cdf)
    assert cdf[-1][1] == 1.0


def test_histogram_round_trips_through_a_file(tmp_path: Path) -> None:
    hist = hdr.from_values_us([100, 200, 300])
    hdr.save(hist, tmp_path / "x.hdr")
    assert hdr.summary(hdr.load(tmp_path / "x.hdr")) == hdr.summary(hist)


def rec(job: str, start: float, end: float, planned: float = 0, outcome: str = "ok") -> dict:
    return {"job": job, "start": int(start * 1e9), "end": int(end * 1e9),
            "planned": int(planned * 1e9), "outcome": outcome, "pid": 1, "attempt": None}


def test_latency_is_first_start_minus_planned() -> None:
    records = [rec("a", 1.0, 1.1, 0.5), rec("a", 3.0, 3.1, 0.5), rec("b", 2.0, 2.1, 1.9)]
    assert sorted(metrics.latency_us(records)) == pytest.approx([100000, 500000])


def test_throughput_counts_ok_jobs_from_first_start_to_last_end() -> None:
    records = [rec(str(i), i * 0.1, i * 0.1 + 0.1) for i in range(10)] + [rec("x", 0, 5, outcome="error")]
    tp = metrics.throughput(records)
    assert tp["completed"] == 10
    assert tp["throughput_per_s"] == pytest.approx(10.0)


def test_warmup_is_the_first_jobs_to_start() -> None:
    records = [rec(str(i), 10 - i, 11 - i) for i in range(5)]
    assert [r["job"] for r in metrics.drop_warmup(records, 2)] == ["2", "1", "0"]


def test_spread_is_median_min_max_and_below_five_repeats_its_interval_is_the_min_max() -> None:
    row = summary.spread([3, 1, 2])
    assert (row["median"], row["min"], row["max"], row["repeats"]) == (2, 1, 3, 3)
    assert row["ci"] == [1, 3] and row["interval"] == "min-max" and row["values"] == [1, 2, 3]
    assert summary.spread([])["median"] is None


def test_the_bootstrap_interval_of_a_fixed_sample_is_the_known_answer() -> None:
    """Ten repeats 100..109: the 95 % bootstrap interval of the median lies within the sample,
    holds the median, and is the same every time (a fixed seed)."""
    values = [100.0 + i for i in range(10)]
    low, high, kind = summary.interval(values)
    assert kind == "bootstrap95"
    assert 100 <= low < 104.5 < high <= 109
    assert (low, high) == summary.interval(list(reversed(values)))[:2]
    assert 101 <= low and high <= 108  # the median's interval is narrower than the sample


def test_a_ratio_interval_says_whether_two_systems_differ() -> None:
    a, b, c = [100.0, 101, 102, 103, 104], [50.0, 51, 52, 49, 50], [99.0, 102, 104, 101, 103]
    low, high, _ = summary.ratio_interval(a, b)  # type: ignore[misc]
    assert 1.9 < low < 2.04 < high < 2.13
    assert summary.overlap(summary.interval(a)[:2], summary.interval(c)[:2])  # no clear difference
    assert not summary.overlap(summary.interval(a)[:2], summary.interval(b)[:2])


def test_a_large_spread_is_flagged_unstable() -> None:
    assert summary.spread([100, 101, 102]).get("unstable") is None
    assert summary.spread([100, 150, 102])["unstable"] is True


def test_summary_groups_repeats_and_divides_by_the_floor() -> None:
    def cell(scenario: str, system: str, value: float, repeat: int) -> dict:
        return {"scenario": scenario, "system": system, "config": "default", "workload": "noop",
                "params": {"n": 10, "concurrency": 1}, "repeat": repeat, "status": "ok",
                "metrics": {"throughput_per_s": value}}
    cells = [cell("floor", "redis-py", 1000, r) for r in range(3)]
    cells += [cell("throughput", "x", v, r) for r, v in enumerate([100, 300, 200])]
    rows = [r for r in summary.build(cells, registry.scenarios()) if r["scenario"] == "throughput"
            and r["metric"] == "throughput_per_s"]
    assert len(rows) == 1
    row = rows[0]
    assert (row["median"], row["min"], row["max"], row["repeats"]) == (200, 100, 300, 3)
    assert row["floor_ratio"] == pytest.approx(0.2)
