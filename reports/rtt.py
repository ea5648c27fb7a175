"""The rtt section: what a round trip to Redis costs each design, explained from the counts.

Hooks of the rtt scenario's Section (table, plot, explain); the header's badge for a run under
`queuebench run --rtt` is in the report template (metadata rtt_ms, rtt_added_ms). Every sentence is computed from the
measured counts: round trips per job (the proxy's request chunks, a pipeline or MULTI block being
one), commands per job (INFO commandstats) and the drain and idle-latency figures at each RTT.
"""

from __future__ import annotations

import statistics
from typing import Any

from matplotlib.ticker import FuncFormatter, NullFormatter

from reports import figures, metrics
from reports.figures import Plot, by_pair, grouped, name
from reports.run import Run, dig
from reports.sections import Table

fmt = metrics.fmt

PIPELINED = 0.75  # commands per round trip below this share: "most commands share a trip"
NOT_SLOWER = 0.95  # a drain at the larger RTT above this share of the smaller's "did not fall"
TOP_COMMANDS = 4  # commands named per side in a sentence


def _cells(run: Run) -> list[dict[str, Any]]:
    return run.cells_of("rtt")


def _rtts(cells: list[dict[str, Any]]) -> list[float]:
    return sorted({float(c["params"].get("rtt_ms", 0.0)) for c in cells})


def _median(cells: list[dict[str, Any]], path: str) -> float | None:
    vals = [float(v) for c in cells if isinstance(v := dig(c["metrics"], path), int | float)]
    return statistics.median(vals) if vals else None


def _at(cells: list[dict[str, Any]], rtt: float) -> list[dict[str, Any]]:
    return [c for c in cells if float(c["params"].get("rtt_ms", 0.0)) == rtt]


def _commands(cells: list[dict[str, Any]], side: str) -> dict[str, float]:
    """The side's commands per job, median over the cells, largest first."""
    names = {k for c in cells for k in (dig(c["metrics"], f"{side}.commands") or {})}
    out = {k: statistics.median(float((dig(c["metrics"], f"{side}.commands") or {}).get(k, 0))
                                for c in cells) for k in names}
    return dict(sorted(((k, v) for k, v in out.items() if v >= 0.05), key=lambda kv: -kv[1]))


def _unit(cells: list[dict[str, Any]]) -> str:
    unit = cells[0]["params"].get("unit", "processes") if cells else "processes"
    return "slot" if unit == "concurrency" else "process"


# ---------------------------------------------------------------------------------------------
# table


def table(run: Run) -> Table | None:
    rows = []
    for system, config, cells in by_pair(run, _cells(run)):
        for rtt in _rtts(cells):
            at = _at(cells, rtt)
            tp = [float(v) for c in at if isinstance(v := dig(c["metrics"], "per_unit_per_s"), int | float)]
            med, lo, hi = figures.spread(tp) if tp else (None, None, None)
            rows.append([
                name(run, system, config), f"{rtt:g} ms", fmt(_median(at, "rtt_added_ms"), "ms"),
                fmt(med, "jobs/s"), metrics.fmt_range(lo, hi, "jobs/s"),
                fmt(_median(at, "idle_latency_us.p50"), "us"),
                f"{_median(at, 'worker.round_trips_per_job') or 0:.2f}",
                f"{_median(at, 'worker.commands_per_job') or 0:.2f}",
                f"{_median(at, 'producer.round_trips_per_job') or 0:.2f}",
                f"{_median(at, 'producer.commands_per_job') or 0:.2f}", len(at)])
    if not rows:
        return None
    return Table("rtt", "Round trips and what they cost (medians of the repeats)",
                 ["system", "RTT", "proxy added", "drain per unit", "spread", "idle latency p50",
                  "worker trips / job", "worker commands / job", "producer trips / enqueue",
                  "producer commands / enqueue", "repeats"], rows, set(range(3, 12)))


# ---------------------------------------------------------------------------------------------
# plot


@figures.styled
def plot(run: Run) -> list[Plot]:
    cells = _cells(run)
    groups = grouped(run, cells)
    if not groups:
        return []
    fig = figures._figure(10, 3.6)
    left, right = fig.subplots(1, 2)
    alt = []
    for i, (system, config, group) in enumerate(groups):
        rtts = _rtts(group)
        tp = [_median(_at(group, r), "per_unit_per_s") for r in rtts]
        lat = [_median(_at(group, r), "idle_latency_us.p50") for r in rtts]
        label = name(run, system, config)
        marker = figures.MARKERS[i % len(figures.MARKERS)]
        left.plot(rtts, [v or 0 for v in tp], marker=marker, label=label)
        right.plot(rtts, [(v or 0) / 1000 for v in lat], marker=marker, label=label)
        alt.append(f"{label}: " + ", ".join(f"{fmt(v, 'jobs/s')} per unit and {fmt(w, 'us')} "
                                            f"idle at {r:g} ms" for r, v, w in zip(rtts, tp, lat,
                                                                                    strict=True)))
    for ax in (left, right):
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
    left.set_xlabel("added round trip (ms)")
    left.set_ylabel("no-op drain per thread / process (jobs/s)")
    right.set_xlabel("added round trip (ms)")
    right.set_ylabel("idle enqueue-to-start p50 (ms)")
    figures._legend_below(fig, left, 3)
    return [figures._svg(fig, "rtt", "Drain per unit and idle latency against the round trip: "
                         + "; ".join(alt))]


# ---------------------------------------------------------------------------------------------
# explanation


def _names(commands: dict[str, float]) -> str:
    top = list(commands.items())[:TOP_COMMANDS]
    more = len(commands) - len(top)
    said = ", ".join(f"{k.upper()} ×{v:g}" for k, v in ((k, round(v, 2)) for k, v in top))
    return said + (f" and {more} more" if more > 0 else "")


def explain(run: Run) -> list[str]:
    out: list[str] = []
    costs: list[tuple[str, float]] = []
    for system, config, cells in by_pair(run, _cells(run)):
        who = name(run, system, config)
        trips = _median(cells, "worker.round_trips_per_job")
        cmds = _median(cells, "worker.commands_per_job")
        if trips is None or cmds is None:
            continue
        costs.append((who, trips))
        unit = _unit(cells)
        s = (f"{who} makes {trips:.1f} round trips to Redis per job on the worker side "
             f"({cmds:.1f} commands: {_names(_commands(cells, 'worker'))})")
        if cmds > 0 and trips / cmds < PIPELINED:
            s += f"; it batches them, {cmds / max(trips, 0.01):.1f} commands per trip"
        s += "."
        ptrips = _median(cells, "producer.round_trips_per_job")
        pcmds = _median(cells, "producer.commands_per_job")
        if ptrips is not None and pcmds is not None:
            s += (f" Enqueueing one job costs {ptrips:.1f} round trips ({pcmds:.1f} commands: "
                  f"{_names(_commands(cells, 'producer'))}).")
        rtts = _rtts(cells)
        base, far = rtts[0], rtts[-1]
        if far > base:
            d0 = _median(_at(cells, base), "per_unit_per_s")
            d1 = _median(_at(cells, far), "per_unit_per_s")
            l0 = _median(_at(cells, base), "idle_latency_us.p50")
            l1 = _median(_at(cells, far), "idle_latency_us.p50")
            extra = far - base
            s += (f" At {far:g} ms that is {trips * extra:.1f} ms per job per {unit} before any "
                  f"work, a ceiling of {1000 / max(trips * extra, 1e-9):,.0f} jobs/s per {unit}")
            if d0 and d1 and d1 >= d0 * NOT_SLOWER:
                s += (f"; measured, its no-op drain did not fall ({fmt(d0, 'jobs/s')}, then "
                      f"{fmt(d1, 'jobs/s')} per {unit}): its own cost per job, or the noise of "
                      "the machine, is larger than the round trips")
            elif d0 and d1:
                s += (f"; measured, its no-op drain went from {fmt(d0, 'jobs/s')} to "
                      f"{fmt(d1, 'jobs/s')} per {unit} ({d1 / d0 * 100:.0f} %)")
            if l0 is not None and l1 is not None:
                s += (f", and an idle job's enqueue-to-start from {fmt(l0, 'us')} to "
                      f"{fmt(l1, 'us')}")
            s += "."
            poll = cells[0]["params"].get("poll_interval_s")
            if isinstance(poll, int | float):
                s += (f" Its idle latency is mostly its polling sleep (every {fmt(poll, 's')} "
                      "here): a poller pays its round trips on every poll, a job or not.")
        out.append(s)
    if len(costs) >= 2:
        costs.sort(key=lambda c: c[1])
        (lo_who, lo), (hi_who, hi) = costs[0], costs[-1]
        if lo > 0 and hi / lo >= 2:
            out.append(f"{hi_who} makes {hi / lo:.0f}× the round trips of {lo_who} per job: on one "
                       "machine that hides in a tenth of a millisecond each, with Redis on another "
                       "host every one of them is paid in full, per job and per worker.")
    if out:
        out.append("Counting: a round trip is a request the delay proxy read from a client in "
                   "one piece, so a pipeline or MULTI...EXEC block counts once; commands are INFO "
                   "commandstats deltas; a polling worker's idle polls are subtracted, and a "
                   "heartbeat that fell among the counted jobs is in that repeat's count (the "
                   "figures are medians of the repeats).")
    return out
