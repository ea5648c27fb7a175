"""How the report says a figure: a value in the unit it was measured in (latency in µs shown as
µs / ms / s, memory in bytes as MiB), ranges and ratios, a cell's parameters in words, and one
colour per system. What a figure is called and which way is better is its scenario's
declaration (core.scenario.Figure, read through reports.run.Run.figure).
"""

from __future__ import annotations

import math
from typing import Any

# Colour-blind-safe (Okabe-Ito) colours, one per system, the same in every figure.
COLOURS = {
    "redis-py": "#555555",
    "resque_clone": "#D55E00",
    "sidekiq_clone": "#0072B2",
    "rq": "#E69F00",
    "celery": "#009E73",
}
SPARE_COLOURS = ["#CC79A7", "#56B4E9", "#F0E442", "#000000"]


def colour(system: str, order: list[str]) -> str:
    if system in COLOURS:
        return COLOURS[system]
    others = [s for s in order if s not in COLOURS]
    return SPARE_COLOURS[others.index(system) % len(SPARE_COLOURS)] if system in others else "#777777"


def sig(x: float, digits: int = 3) -> str:
    """x with `digits` significant digits, thousands separated, no exponent."""
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(x)))))
    return f"{x:,.{decimals}f}"


def fmt(value: Any, unit: str) -> str:
    """A value in its unit, for people: 352 µs, 56.2 ms, 1.08 s, 27.4 MiB, 7,151 jobs/s, 75.0 %."""
    if value is None:
        return "—"
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    v = float(value)
    if unit in ("us", "µs"):
        return fmt_seconds(v / 1e6)
    if unit == "ms":
        return fmt_seconds(v / 1e3)
    if unit == "s":
        return fmt_seconds(v)
    if unit == "bytes":
        return f"{v / 2**20:,.1f} MiB"
    if unit == "fraction":
        return f"{v * 100:.1f} %"
    if unit.endswith("/s"):
        return f"{v:,.0f} {unit}" if v >= 100 else f"{sig(v)} {unit}"
    if unit in ("jobs", "count", ""):
        return f"{v:,.0f}" if v == int(v) else sig(v)
    return f"{sig(v)} {unit}"


def fmt_seconds(s: float) -> str:
    a = abs(s)
    if a == 0:
        return "0 s"
    if a < 1e-3:
        return f"{sig(s * 1e6)} µs"
    if a < 1:
        return f"{sig(s * 1e3)} ms"
    return f"{sig(s)} s"


def fmt_range(lo: Any, hi: Any, unit: str) -> str:
    if lo is None or hi is None:
        return ""
    a, b = fmt(lo, unit), fmt(hi, unit)
    if a == b:
        return a
    # one unit at the end when both sides share it: "344–354 µs"
    ua, ub = a.rsplit(" ", 1), b.rsplit(" ", 1)
    if len(ua) == 2 and len(ub) == 2 and ua[1] == ub[1]:
        return f"{ua[0]}–{ub[0]} {ub[1]}"
    return f"{a}–{b}"


def fmt_ratio(r: float | None) -> str:
    if r is None or not math.isfinite(r):
        return ""
    return f"×{sig(r, 2)}" if r < 100 else f"×{r:,.0f}"


# Parameters that tell two figures of one scenario apart, and how to say them.
_PARAM_WORDS = {
    "concurrency": lambda v: f"concurrency {v}",
    "load": lambda v: "idle (sparse arrivals)" if v == "idle" else f"{v} of its drain rate",
    "rate": lambda v: f"{v:g}/s offered",
    "ms": lambda v: f"{v} ms jobs",
    "backoff": lambda v: f"{v} backoff",
    "max_retries": lambda v: f"max {v} retries",
    "target": lambda v: f"kill the {v}",
    "delay_s": lambda v: f"delay {v:g} s",
    "fail_first": lambda v: f"fails first {v}",
}
_QUIET = {"n", "jobs", "duration_s", "arrival", "window_s", "jobs_per_queue", "processed",
          "seed", "warmup", "unit", "processes", "threads", "idle_s", "fraction", "min_jobs",
          "max_jobs", "reference_throughput", "throughput_source",
          "system_config",  # the harness copies each cell's config into its params; Configs shows it
          "not_applicable"}  # a lesson cell's reason, which the cell's own reason says
# A system's own concurrency where the scenario does not sweep it, and the rate where the load
# names the step (each system gets its own rate: a fraction of its own drain rate).
_QUIET_IN = {"memory": {"concurrency"}, "latency": {"concurrency"}}


def params_label(params: dict[str, Any], scenario: str = "") -> str:
    bits = []
    order = list(_PARAM_WORDS)
    for key, value in sorted(params.items(), key=lambda kv: (order.index(kv[0]) if kv[0] in order
                                                             else len(order), kv[0])):
        if key in _QUIET or key in _QUIET_IN.get(scenario, ()) or (key == "rate" and "load" in params):
            continue
        say = _PARAM_WORDS.get(key)
        bits.append(say(value) if say else f"{key} {value}")
    return ", ".join(bits)


def best_of(values: list[float], better: str | None) -> float | None:
    if not values or better is None:
        return None
    return max(values) if better == "higher" else min(values)


def load_step(params: dict[str, Any], offered: float | None = None) -> tuple[float, str]:
    """A latency cell's load step, for ordering and titles: idle first, then the fractions of
    the drain rate ("50%", "90%"), or the offered rate where the step is a plain rate."""
    load = params.get("load")
    if load == "idle":
        return (0.0, "idle (sparse arrivals)")
    if isinstance(load, str) and load.endswith("%"):
        try:
            return (float(load[:-1]), f"{load} of each system's drain rate")
        except ValueError:
            pass
    rate = offered if offered is not None else params.get("rate")
    rate = float(rate or 0)
    return (1000.0 + rate, f"{rate:g} jobs/s offered")


def fmt_rate(rate: float) -> str:
    """An arrival rate for prose: 20, 226, 3,036 (jobs/s)."""
    return f"{rate:,.0f}" if rate >= 10 else sig(rate, 2)


# Intervals: how a figure's spread is named on the page (core.summary computes them).
HIGH_LOAD_PER_CORE = 1.0  # a cell started with a 1-minute load average above this per core is flagged


def interval_label(kind: str | None, repeats: int) -> str:
    """"95 % bootstrap CI" from core.summary's bootstrap interval, else "min–max of N"."""
    return "95 % bootstrap CI" if kind == "bootstrap95" else f"min–max of {repeats}"


def fmt_ratio_range(lo: float | None, hi: float | None) -> str:
    """A ratio's interval: ×0.81–×1.2."""
    if lo is None or hi is None:
        return ""
    return f"{fmt_ratio(lo)}–{fmt_ratio(hi)}"


def floor_words(params: dict[str, Any] | None) -> str:
    """Which floor a ratio divides by: "floor at 1 connection" / "floor at 10 connections"."""
    n = (params or {}).get("connections")
    if not isinstance(n, int | float):
        return "floor"
    return f"floor at {n:g} connection{'' if n == 1 else 's'}"


def concurrency_unit(params: dict[str, Any] | None) -> str:
    """A cell's unit of concurrency from its params (processes, threads) or a config's
    description (processes, concurrency): "1 process × 10 threads"."""
    c = params or {}
    processes, threads = c.get("processes"), c.get("threads", c.get("concurrency"))
    if not isinstance(processes, int) or not isinstance(threads, int):
        return ""
    p = f"{processes} process{'' if processes == 1 else 'es'}"
    return f"{p} × {threads} thread{'' if threads == 1 else 's'}"
