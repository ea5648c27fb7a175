"""The report's plots: matplotlib figures turned into inline, accessible SVG.

Each function takes a Run and returns Plot objects (none when the run has no data for it). A Plot
carries its SVG markup (text as text, ids prefixed so many plots can share one page, a <title>
and <desc> for screen readers) and the alt text, written from the numbers it shows. No pyplot:
every figure is a matplotlib Figure of its own, so nothing global is touched.
"""

from __future__ import annotations

import functools
import io
import math
import re
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from html import escape
from typing import Any

from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, LogLocator, MaxNLocator, NullFormatter

from reports import metrics
from reports.run import FLOOR, Run, dig
from reports.tables import main_config

STYLE: Any = {  # matplotlib rcParams
    "svg.fonttype": "none",
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica"],
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.7,
    "axes.edgecolor": "#888888",
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "legend.frameon": False,
    "legend.fontsize": 9,
}
OUTCOME_COLOURS = {"completed": "#7fb77e", "duplicate": "#CC79A7", "failed": "#E69F00",
                   "pending": "#56B4E9", "lost": "#D55E00"}


@dataclass
class Plot:
    id: str
    svg: str
    alt: str  # the full description with the numbers (the SVG's <desc>)
    note: str = ""  # what the plot deliberately leaves out, and where to find it

    @property
    def caption(self) -> str:
        return self.alt.split(":")[0] + "."


# ---------------------------------------------------------------------------------------------
# helpers


def _svg(fig: Figure, fid: str, alt: str, note: str = "") -> Plot:
    buf = io.StringIO()
    with rc_context({"svg.hashsalt": fid, **STYLE}):
        fig.savefig(buf, format="svg", metadata={"Date": None}, bbox_inches="tight")
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<defs>\s*<style[^>]*>.*?</style>\s*</defs>", "", svg, flags=re.S)
    svg = re.sub(r'id="([^"]+)"', lambda m: f'id="{fid}-{m[1]}"', svg)
    svg = re.sub(r"url\(#([^)]+)\)", lambda m: f"url(#{fid}-{m[1]})", svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{fid}-{m[1]}"', svg)
    head_end = svg.index(">") + 1
    head = svg[:head_end]
    width = re.search(r'width="([\d.]+)pt"', head)
    head = re.sub(r'\s(width|height)="[^"]*"', "", head)
    max_w = f"max-width:{float(width[1]) * 4 / 3:.0f}px;" if width else ""
    head = head.replace(
        "<svg", f'<svg class="plot" role="img" aria-labelledby="{fid}-title {fid}-desc" '
        f'style="width:100%;height:auto;{max_w}"', 1)
    title = alt.split(":")[0]
    desc = f"{alt}. {note}" if note else alt
    svg = (head + f'<title id="{fid}-title">{escape(title)}</title>'
           f'<desc id="{fid}-desc">{escape(desc)}</desc>' + svg[head_end:])
    return Plot(fid, svg, alt, note)


def _figure(width: float, height: float) -> Figure:
    return Figure(figsize=(width, height), layout="constrained")


def styled(fn: Callable[[Run], list[Plot]]) -> Callable[[Run], list[Plot]]:
    """Run a plotting function inside the report's matplotlib style (axes take it at creation)."""

    @functools.wraps(fn)
    def wrapper(run: Run) -> list[Plot]:
        with rc_context(STYLE):
            return fn(run)

    return wrapper


def _tick_time(v: float, unit_s: float) -> str:
    """Compact decade labels for log time axes: 100 µs, 1 ms, 10 s."""
    s = v * unit_s
    for scale, unit in ((1, "s"), (1e-3, "ms"), (1e-6, "µs")):
        if abs(s) >= scale * 0.999:
            return f"{s / scale:g} {unit}"
    return f"{s * 1e9:g} ns" if s > 0 else ""


def _time_axis(ax: Axes, axis: str = "x", unit_s: float = 1e-6) -> None:
    """Log axis of times stored in units of unit_s, labelled 100 µs / 1 ms / 1 s."""
    fmt = FuncFormatter(lambda v, _: _tick_time(v, unit_s) if v > 0 else "")
    if axis == "x":
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, numticks=6))
        ax.xaxis.set_major_formatter(fmt)
        ax.xaxis.set_minor_formatter(NullFormatter())
    else:
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(fmt)
        ax.yaxis.set_minor_formatter(NullFormatter())


MAX_SERIES = 8  # more (system, config) pairs than this: a plot draws each system's main config only


def pairs(run: Run, cells: Iterable[dict[str, Any]] | None = None) -> list[tuple[str, str]]:
    """Every (system, config) pair that has cells (of `cells`, default the whole run), the floor
    excluded: in the systems' order, each system's main config first, then its other configs in
    the order they were measured. Tables list all of these."""
    order = run.system_names()
    found = dict.fromkeys((c["system"], c["config"]) for c in (run.cells if cells is None else cells)
                          if c["system"] != FLOOR)
    return sorted(found, key=lambda k: (order.index(k[0]) if k[0] in order else len(order),
                                        k[1] != main_config(run, k[0])))


def series(run: Run, cells: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The pairs a plot of `cells` draws: all of them while there are at most MAX_SERIES, else
    each system's main config (omitted() names the rest; the section's table lists them all)."""
    every = pairs(run, cells)
    if len(every) <= MAX_SERIES:
        return every
    # pairs() puts a system's main config first; a system measured only in other configs keeps
    # its first one, so no system disappears.
    first: dict[str, tuple[str, str]] = {}
    for system, config in every:
        first.setdefault(system, (system, config))
    return list(first.values())


PairCells = list[tuple[str, str, list[dict[str, Any]]]]


def _with_cells(keys: list[tuple[str, str]], cells: list[dict[str, Any]]) -> PairCells:
    mine: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for c in cells:
        mine.setdefault((c["system"], c["config"]), []).append(c)
    return [(system, config, mine[(system, config)]) for system, config in keys]


def by_pair(run: Run, cells: list[dict[str, Any]]) -> PairCells:
    """pairs(run, cells), each pair with its cells (never empty): what tables and lessons list."""
    return _with_cells(pairs(run, cells), cells)


def grouped(run: Run, cells: list[dict[str, Any]]) -> PairCells:
    """series(run, cells), each pair with its cells (never empty): what a plot draws."""
    return _with_cells(series(run, cells), cells)


def omitted(run: Run, cells: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """The pairs of `cells` a plot leaves out to stay readable (see series())."""
    shown = series(run, cells)
    return [k for k in pairs(run, cells) if k not in shown]


def _omitted_note(run: Run, cells: list[dict[str, Any]], where: str) -> str:
    """The caption's note naming the pairs of `cells` a plot left out, and where their figures are."""
    left_out = omitted(run, cells)
    if not left_out:
        return ""
    return (f"Not drawn, to keep a plot of more than {MAX_SERIES} system/config pairs readable: "
            + ", ".join(name(run, s, c) for s, c in left_out)
            + f". Their figures are in {where} and in the Variants table above.")


def name(run: Run, system: str, config: str) -> str:
    """"RQ" for a system's main config, "RQ (simple)" for another."""
    title = run.title(system)
    return title if config == main_config(run, system) else f"{title} ({config})"


MARKERS = ["o", "s", "D", "v", "P"]


def config_index(run: Run, system: str, config: str) -> int:
    """0 for a system's main config, 1, 2, ... for its others: picks a dash or a marker."""
    configs = [c for s, c in pairs(run) if s == system]
    return configs.index(config) if config in configs else 0


def style_of(run: Run, system: str, config: str) -> dict[str, Any]:
    """A system's colour, its configs told apart by dash."""
    dashes = ["-", "--", ":", "-."]
    return {"color": metrics.colour(system, run.system_names()),
            "linestyle": dashes[config_index(run, system, config) % 4]}


def median_cell(cells: list[dict[str, Any]], path: str) -> dict[str, Any] | None:
    """The repeat whose figure at `path` is the median one (the one a plot shows)."""
    scored = [(dig(c["metrics"], path), c) for c in cells]
    scored = [(v, c) for v, c in scored if isinstance(v, int | float)]
    if not scored:
        return None
    scored.sort(key=lambda vc: vc[0])
    return scored[(len(scored) - 1) // 2][1]


def spread(values: Iterable[float]) -> tuple[float, float, float]:
    vals = list(values)
    return statistics.median(vals), min(vals), max(vals)


def _legend_below(fig: Figure, ax: Axes, ncol: int = 4) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="outside lower center", ncol=min(ncol, len(handles)))


# ---------------------------------------------------------------------------------------------
# latency


@styled
def latency_cdfs(run: Run) -> list[Plot]:
    plots = []
    cells = run.cells_of("latency")
    hop = run.floor_value("hop_latency_us.p50")
    for workload in sorted({c["workload"] for c in cells}):
        mine = [c for c in cells if c["workload"] == workload]
        steps: dict[float, str] = {}
        for c in mine:
            order, title = metrics.load_step(c["params"], c["metrics"].get("offered_rate"))
            steps[order] = title
        orders = sorted(steps)
        if len(orders) > 4:
            orders = [orders[0], orders[len(orders) // 3], orders[2 * len(orders) // 3], orders[-1]]
        fig = _figure(10, 3.8)
        axes = fig.subplots(1, len(orders), sharey=True, squeeze=False)[0]
        said = []
        drawn = grouped(run, mine)
        for ax, order in zip(axes, orders, strict=True):
            for system, config, theirs in drawn:
                group = [c for c in theirs
                         if metrics.load_step(c["params"], c["metrics"].get("offered_rate"))[0] == order]
                chosen = median_cell(group, "latency_us.p50")
                points = (chosen or {}).get("metrics", {}).get("cdf") or []
                if not points:
                    continue
                rate = float(chosen["metrics"].get("offered_rate") or 0)  # type: ignore[index]
                xs = [max(p[0], 1) for p in points]
                ys = [p[1] for p in points]
                ax.step(xs, ys, where="post", label=name(run, system, config), linewidth=1.8,
                        **style_of(run, system, config))
                said.append(f"{name(run, system, config)} p50 "
                            f"{metrics.fmt(dig(chosen, 'metrics.latency_us.p50'), 'us')} at {rate:g}/s")
            if hop:
                ax.axvline(hop, color="#555555", linestyle=":", linewidth=1.2, label="bare Redis hop p50")
            _time_axis(ax)
            ax.set_title(steps[order], fontsize=9.5)
            ax.set_xlabel("enqueue-to-start latency")
            ax.set_ylim(0, 1.01)
        axes[0].set_ylabel("fraction of jobs started")
        _legend_below(fig, axes[0], 5)
        alt = (f"Latency CDFs, {workload} workload: fraction of jobs started within a time, on a log "
               f"time axis, per load step ({'; '.join(steps[o] for o in orders)}); " + "; ".join(said))
        plots.append(_svg(fig, f"cdf-{_slug(workload)}", alt,
                          _omitted_note(run, mine, "the table of every paced cell below")))
    return plots


@styled
def latency_vs_load(run: Run) -> list[Plot]:
    plots = []
    cells = run.cells_of("latency")
    for workload in sorted({c["workload"] for c in cells}):
        fig = _figure(10, 4.0)
        ax = fig.subplots()
        said: list[str] = []
        handles: list[Line2D] = []
        mine = [c for c in cells if c["workload"] == workload]
        for system, config, group in grouped(run, mine):
            # One point per load step: each repeat derives its rate from its own drain rate, so
            # the repeats of a step differ a little in offered rate; x is their median.
            by_step: dict[float, list[dict[str, Any]]] = {}
            for c in group:
                if "steps" in c["metrics"]:
                    continue  # a sweep: its steps are the points (below)
                by_step.setdefault(metrics.load_step(c["params"], c["metrics"].get("offered_rate"))[0],
                                   []).append(c)
            swept = sweep_steps(group)
            for fraction, reps in swept.items():  # each step of a sweep cell: one more point
                by_step.setdefault(1000.0 + fraction, []).extend(reps)
            if not by_step:
                continue
            steps = sorted(by_step)
            rates = [statistics.median(float(c["metrics"].get("offered_rate") or c["params"].get("rate") or 0)
                                       for c in by_step[k]) for k in steps]
            st = style_of(run, system, config)
            marker = MARKERS[config_index(run, system, config) % len(MARKERS)]
            for pct, ls, face in (("p50", "-", st["color"]), ("p99", "--", "white")):
                stats = [spread(dig(c["metrics"], f"latency_us.{pct}") for c in by_step[k]) for k in steps]
                med = [s[0] for s in stats]
                err = [[s[0] - s[1] for s in stats], [s[2] - s[0] for s in stats]]
                ax.errorbar(rates, med, yerr=err, marker=marker, linestyle=ls, color=st["color"],
                            markerfacecolor=face, capsize=3, linewidth=1.6, markersize=5.5)
            limited = [(r, m) for k, r in zip(steps, rates, strict=True)
                       for m in [spread(dig(c["metrics"], "latency_us.p99") for c in by_step[k])[2]]
                       if any(dig(c["metrics"], "generator_lag_us.limited") for c in by_step[k])]
            if limited:  # the producer fell behind at these steps: badge them, never a headline
                ax.scatter([r for r, _ in limited], [m * 1.6 for _, m in limited], marker="x",
                           color=st["color"], s=30, linewidths=1.4, zorder=5)
            knee = max_sustainable(group)
            if knee:
                ax.axvline(knee, color=st["color"], linestyle=":", linewidth=1.3)
                ax.annotate(f"max sustainable {metrics.fmt_rate(knee)}/s", (knee, 0.98),
                            xycoords=("data", "axes fraction"), rotation=90, va="top", ha="right",
                            fontsize=7.5, color=st["color"])
            handles.append(Line2D([], [], color=st["color"], marker=marker, linewidth=1.6,
                                  label=name(run, system, config)))
            if knee:
                said.append(f"{name(run, system, config)} sustains at most {metrics.fmt_rate(knee)} jobs/s "
                            "(dotted line)")
            if limited:
                said.append(f"{name(run, system, config)}: {len(limited)} step(s) generator-limited (×)")
            p99 = [spread(dig(c["metrics"], "latency_us.p99") for c in by_step[k])[0] for k in steps]
            said.append(f"{name(run, system, config)} p99 from {metrics.fmt(p99[0], 'us')} at "
                        f"{metrics.fmt_rate(rates[0])}/s to {metrics.fmt(p99[-1], 'us')} at "
                        f"{metrics.fmt_rate(rates[-1])}/s")
        ax.set_xscale("log")
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}/s" if v >= 1 else f"{v:g}/s"))
        _time_axis(ax, "y")
        ax.set_xlabel("offered load (jobs/s, paced open loop; one point per load step)")
        ax.set_ylabel("enqueue-to-start latency")
        ax.set_title(f"Latency against offered load, {workload} (bars: min–max of repeats)")
        handles += [Line2D([], [], color="#555555", marker="x", linestyle="", label="generator-limited step"),
                    Line2D([], [], color="#555555", linestyle=":", label="max sustainable rate (knee)"),
                    Line2D([], [], color="#555555", marker="o", linestyle="-", label="p50 (solid, filled)"),
                    Line2D([], [], color="#555555", marker="o", markerfacecolor="white", linestyle="--",
                           label="p99 (dashed, hollow)")]
        fig.legend(handles=handles, loc="outside right center", fontsize=8.5)
        alt = (f"Latency against offered load, {workload} workload, log-log: " + "; ".join(said))
        plots.append(_svg(fig, f"load-{_slug(workload)}", alt,
                          _omitted_note(run, mine, "the latency section's table of every paced cell")))
    return plots


# ---------------------------------------------------------------------------------------------
# throughput


def sweep_steps(cells: list[dict[str, Any]]) -> dict[float, list[dict[str, Any]]]:
    """The steps of a system's load-sweep cells, by fraction of its drain rate, each step as a
    cell-like {"metrics": step} (its offered_rate, latency_us, generator_lag_us), all repeats."""
    out: dict[float, list[dict[str, Any]]] = {}
    for c in cells:
        for step in c["metrics"].get("steps") or []:
            if isinstance(step, dict) and isinstance(step.get("fraction"), int | float) and step.get("latency_us"):
                out.setdefault(float(step["fraction"]), []).append({"metrics": step, "params": {}})
    return out


def max_sustainable(cells: list[dict[str, Any]]) -> float | None:
    """The median maximum sustainable rate of a system's sweep cells (None when none found one)."""
    rates = [float(r) for c in cells if isinstance(r := c["metrics"].get("max_sustainable_rate"), int | float)
             and r > 0]
    return statistics.median(rates) if rates else None


def concurrency(cell: dict[str, Any]) -> int:
    """The jobs a throughput cell ran at once (processes times threads)."""
    return int(cell["metrics"].get("concurrency") or cell["params"].get("concurrency") or 1)


@styled
def throughput(run: Run) -> list[Plot]:
    cells = run.cells_of("throughput")
    workloads = sorted({c["workload"] for c in cells}, key=lambda w: (w != "noop", w))
    if not workloads:
        return []
    floor = run.floor_value("throughput_per_s")
    fig = _figure(10, 3.8)
    axes = fig.subplots(1, len(workloads), squeeze=False)[0]
    said = []
    drawn = grouped(run, cells)
    for ax, workload in zip(axes, workloads, strict=True):
        for system, config, theirs in drawn:
            group = [c for c in theirs if c["workload"] == workload]
            by_c: dict[int, list[float]] = {}
            for c in group:
                by_c.setdefault(concurrency(c), []).append(float(c["metrics"]["throughput_per_s"]))
            if not by_c:
                continue
            xs = sorted(by_c)
            stats = [spread(by_c[x]) for x in xs]
            st = style_of(run, system, config)
            ax.errorbar(xs, [s[0] for s in stats],
                        yerr=[[s[0] - s[1] for s in stats], [s[2] - s[0] for s in stats]],
                        marker="o", capsize=3, linewidth=1.8, label=name(run, system, config), **st)
            top = max(range(len(xs)), key=lambda i: stats[i][0])
            said.append(f"{name(run, system, config)} {workload} peaks at "
                        f"{metrics.fmt(stats[top][0], 'jobs/s')} (concurrency {xs[top]})")
        if floor and workload == "noop":  # the floor pops empty jobs: a noop figure
            ax.axhline(floor, color="#555555", linestyle=":", linewidth=1.2, label="bare Redis BRPOP loop")
        ax.set_yscale("log")
        lo, hi = ax.get_ylim()
        if lo > 0 and hi / lo < 100:  # under two decades: label 1-2-5 steps, not one lone decade
            ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
        ax.yaxis.set_minor_formatter(NullFormatter())
        concs = sorted({concurrency(c) for c in cells if c["workload"] == workload})
        ax.set_xscale("log", base=2)
        ax.set_xticks(concs)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
        if len(concs) == 1:
            ax.set_xlim(concs[0] / 1.6, concs[0] * 1.6)
        ax.set_xlabel("concurrency (worker processes or threads)")
        ax.set_title(f"{workload}")
    axes[0].set_ylabel("jobs/s, worker side (log)")
    _legend_below(fig, axes[0], 6)
    alt = "Throughput against concurrency, median of repeats with min–max bars: " + "; ".join(said)
    return [_svg(fig, "throughput", alt, _omitted_note(run, cells, "the table below"))]


# ---------------------------------------------------------------------------------------------
# memory


def in_flight(cell: dict[str, Any]) -> int:
    """The jobs a memory cell held in flight at once (older files: its concurrency)."""
    return int(cell["params"].get("in_flight") or cell["params"].get("concurrency") or 0)


def by_flight(pairs_: PairCells) -> PairCells:
    """Each (system, config, cells) split by jobs in flight, fewest first within a pair; the
    config slot names it: "default · 10 in flight" (one figure per pair and in-flight count)."""
    out: PairCells = []
    for system, config, cells in pairs_:
        counts = sorted({in_flight(c) for c in cells})
        for n in counts:
            label = config if len(counts) == 1 or not n else f"{config} · {n} in flight"
            out.append((system, label, [c for c in cells if in_flight(c) == n]))
    return out


@styled
def memory(run: Run) -> list[Plot]:
    cells = run.cells_of("memory")
    rows = grouped(run, cells)
    if not rows:
        return []
    rows = by_flight(rows)
    fig = _figure(10, 0.9 + 0.62 * len(rows))
    axes = fig.subplots(1, 2, sharey=True)
    kinds = [("uss", "USS (own)", "#33415c"), ("pss", "PSS (fair share)", "#7d8fb3"),
             ("rss", "RSS (counts shared pages again)", "#d3dbe8")]
    said = []
    labels = [flight_name(run, s, c) for s, c, _ in rows]
    for ax, phase in zip(axes, ("idle", "peak"), strict=True):
        for k, (kind, label, col) in enumerate(kinds):
            ys = [i + (k - 1) * 0.27 for i in range(len(rows))]
            vals = [statistics.median(dig(c["metrics"], f"{phase}.{kind}") for c in group) / 2**20
                    for _, _, group in rows]
            ax.barh(ys, vals, height=0.26, color=col, edgecolor="#33415c", linewidth=0.5, label=label)
            for y, v in zip(ys, vals, strict=True):
                ax.annotate(f"{v:.0f}", (v, y), xytext=(3, 0), textcoords="offset points",
                            va="center", fontsize=7.5, color="#333333")
        ax.set_title(f"{phase} (workers up{', no jobs' if phase == 'idle' else ', under load'})")
        ax.set_xlabel("MiB, whole worker process tree")
        ax.grid(axis="y", visible=False)
    for (system, config, group) in rows:
        peak = statistics.median(dig(c["metrics"], "peak.uss") for c in group)
        said.append(f"{flight_name(run, system, config)} peak USS {metrics.fmt(peak, 'bytes')}")
    axes[0].set_yticks(range(len(rows)), labels)
    axes[0].invert_yaxis()
    _legend_below(fig, axes[0], 3)
    alt = "Memory per system, idle and peak, USS / PSS / RSS in MiB: " + "; ".join(said)
    return [_svg(fig, "memory", alt, _omitted_note(run, cells, "the table below"))]


def flight_name(run: Run, system: str, label: str) -> str:
    """name() of a by_flight() label: "Sidekiq clone · 10 in flight", "RQ (simple) · 1 in flight"."""
    config, _, flight = label.partition(" · ")
    return name(run, system, config) + (f" · {flight}" if flight else "")


# ---------------------------------------------------------------------------------------------
# retries


@styled
def retries(run: Run) -> list[Plot]:
    cells = []
    measured = [c for c in run.cells_of("retries", status=None) if c["metrics"].get("jobs")]
    for _, _, theirs in grouped(run, measured):
        group = [c for c in theirs if c["status"] in ("ok", "unsupported")]
        chosen = median_cell(group, "time_to_success_s.p50") or (group[0] if group else None)
        if chosen and any(j.get("attempts") for j in chosen["metrics"]["jobs"]):
            cells.append(chosen)
    if not cells:
        return []
    fig = _figure(10, sum(0.75 + 0.24 * len(c["metrics"]["jobs"]) for c in cells) + 0.6)
    axes = fig.subplots(len(cells), 1, sharex=True, squeeze=False,
                        height_ratios=[len(c["metrics"]["jobs"]) + 2 for c in cells])[:, 0]
    said = []
    for ax, c in zip(axes, cells, strict=True):
        jobs = c["metrics"]["jobs"]
        t0 = min(a["start"] for j in jobs for a in j["attempts"]) if any(j["attempts"] for j in jobs) else 0
        colour = metrics.colour(c["system"], run.system_names())
        for y, job in enumerate(jobs):
            starts = [(a["start"] - t0) / 1e9 for a in job["attempts"]]
            if not starts:
                continue
            ax.plot(starts, [y] * len(starts), color=colour, linewidth=1.2, alpha=0.6)
            for a, x in zip(job["attempts"], starts, strict=True):
                ok = a["outcome"] == "ok"
                ax.plot([x], [y], marker="o" if ok else "X", markersize=7 if ok else 6.5,
                        color="#1a7f37" if ok else "#c62828", linestyle="none")
            ax.annotate(job["final"], (starts[-1], y), xytext=(7, 0), textcoords="offset points",
                        va="center", fontsize=8, color="#333333")
        ax.set_yticks(range(len(jobs)), [str(j["job"])[-10:] for j in jobs], fontsize=7.5)
        ax.set_ylim(len(jobs) - 0.4, -0.6)
        note = " — no automatic retries: each job ran once" if c["status"] == "unsupported" else ""
        ax.set_title(f"{name(run, c['system'], c['config'])}{note}", loc="left", color=colour)
        ax.grid(axis="y", visible=False)
        finals = [j["final"] for j in jobs]
        said.append(f"{name(run, c['system'], c['config'])}: " + ", ".join(
            f"{finals.count(f)} {f}" for f in sorted(set(finals))))
    axes[-1].set_xlabel("seconds since the first attempt (● succeeded, ✕ failed attempt)")
    xmax = 0.0
    for c in cells:
        starts = [a["start"] for j in c["metrics"]["jobs"] for a in j["attempts"]]
        xmax = max(xmax, (max(starts) - min(starts)) / 1e9)
    axes[-1].set_xlim(-0.04 * max(xmax, 1), xmax * 1.1 + 0.3)
    alt = "Retry timelines, each job's attempts on a time axis per system: " + "; ".join(said)
    return [_svg(fig, "retries", alt, _omitted_note(run, measured, "the table below"))]


# ---------------------------------------------------------------------------------------------
# crash


def kill_target(cell: dict[str, Any]) -> str:
    """The process a crash cell killed: "worker" or its forked "child"."""
    return str(cell["metrics"].get("target") or cell["params"].get("target") or "worker")


@styled
def crash(run: Run) -> list[Plot]:
    cells = run.cells_of("crash")
    if not cells:
        return []
    order = pairs(run, cells)
    cells = sorted(cells, key=lambda c: (order.index((c["system"], c["config"])), kill_target(c) != "worker"))
    rows: list[tuple[str, dict[str, float]]] = []
    seen = set()
    for c in cells:
        target = kill_target(c)
        key = (c["system"], c["config"], target)
        if key in seen:
            continue
        seen.add(key)
        group = [d for d in cells if (d["system"], d["config"], kill_target(d)) == key]
        counts = {k: statistics.median(d["metrics"]["counts"].get(k, 0) for d in group)
                  for k in OUTCOME_COLOURS}
        rows.append((f"{name(run, c['system'], c['config'])} · kill {target}", counts))
    fig = _figure(10, 0.9 + 0.42 * len(rows))
    ax = fig.subplots()
    left = [0.0] * len(rows)
    for kind, col in OUTCOME_COLOURS.items():
        vals = [r[1][kind] for r in rows]
        ax.barh(range(len(rows)), vals, left=left, color=col, label=kind, height=0.62,
                edgecolor="white", linewidth=0.8)
        for i, v in enumerate(vals):
            if v:
                ax.text(left[i] + v / 2, i, f"{v:g}", ha="center", va="center", fontsize=8,
                        color="black")
        left = [a + b for a, b in zip(left, vals, strict=True)]
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.invert_yaxis()
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("jobs, classified after the recovery window")
    ax.grid(axis="y", visible=False)
    _legend_below(fig, ax, 5)
    alt = "Crash outcomes per system and kill target: " + "; ".join(
        f"{label}: " + ", ".join(f"{v:g} {k}" for k, v in counts.items() if v) for label, counts in rows)
    return [_svg(fig, "crash", alt)]


# ---------------------------------------------------------------------------------------------
# scheduled


@styled
def scheduled(run: Run) -> list[Plot]:
    cells = run.cells_of("scheduled")
    rows = []
    for system, config, group in grouped(run, cells):
        chosen = median_cell(group, "error_ms.p50")
        if chosen:
            rows.append((name(run, system, config), chosen["metrics"]["error_ms"],
                         metrics.colour(system, run.system_names())))
    if not rows:
        return []
    fig = _figure(10, 0.9 + 0.45 * len(rows))
    ax = fig.subplots()
    for i, (_label, err, col) in enumerate(rows):
        lo, hi = max(err.get("min", err["p50"]), 0.01), max(err.get("max", err["p50"]), 0.01)
        ax.plot([lo, hi], [i, i], color=col, linewidth=2.5, alpha=0.45, solid_capstyle="round")
        for key, marker, size in (("p50", "o", 8), ("p90", "s", 6), ("p99", "^", 7)):
            if err.get(key) is not None:
                ax.plot([max(err[key], 0.01)], [i], marker=marker, color=col, markersize=size,
                        linestyle="none", label=key if i == 0 else None, markeredgecolor="black",
                        markeredgewidth=0.5)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.invert_yaxis()
    _time_axis(ax, "x", 1e-3)
    ax.set_xlabel("actual start minus planned time (line: min–max; ● p50, ■ p90, ▲ p99)")
    ax.grid(axis="y", visible=False)
    alt = "Scheduled job start error per system, log time axis: " + "; ".join(
        f"{label} p50 {metrics.fmt(err['p50'], 'ms')}, p99 {metrics.fmt(err.get('p99'), 'ms')}"
        for label, err, _ in rows)
    return [_svg(fig, "scheduled", alt, _omitted_note(run, cells, "the table below"))]


# ---------------------------------------------------------------------------------------------
# priority


def expected_share(weights: Any) -> float | None:
    """Share of the high queue a design promises while both queues are saturated."""
    if weights == "strict":
        return 1.0
    if weights == "round_robin":
        return 0.5  # two saturated queues taking turns
    if isinstance(weights, dict) and weights.get("high") is not None:
        total = sum(float(v) for v in weights.values())
        return float(weights["high"]) / total if total else None
    return None


@styled
def priority(run: Run) -> list[Plot]:
    cells = run.cells_of("priority")
    rows = []
    for system, config, group in grouped(run, cells):
        high = statistics.median(float(dig(c["metrics"], "share.high") or 0) for c in group)
        rows.append((name(run, system, config), high, expected_share(group[0]["metrics"].get("weights"))))
    if not rows:
        return []
    fig = _figure(10, 0.9 + 0.42 * len(rows))
    ax = fig.subplots()
    ys = range(len(rows))
    ax.barh(ys, [r[1] for r in rows], color="#0072B2", label="high", height=0.6)
    ax.barh(ys, [1 - r[1] for r in rows], left=[r[1] for r in rows], color="#cfd8e3",
            label="default", height=0.6)
    for i, (_label, high, exp) in enumerate(rows):
        ax.text(high / 2, i, f"{high * 100:.0f} %", ha="center", va="center", color="white", fontsize=8.5)
        if exp is not None:
            ax.plot([exp, exp], [i - 0.38, i + 0.38], color="black", linewidth=2,
                    label="promised by the weights" if i == 0 else None)
    ax.set_yticks(list(ys), [r[0] for r in rows])
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v * 100:.0f} %"))
    ax.set_xlabel("share of processed jobs (both queues saturated)")
    ax.grid(axis="y", visible=False)
    _legend_below(fig, ax, 3)
    alt = "Priority share of the high queue per system: " + "; ".join(
        f"{label} {high * 100:.0f} %" + (f" (weights promise {exp * 100:.0f} %)" if exp is not None else "")
        for label, high, exp in rows)
    return [_svg(fig, "priority", alt, _omitted_note(run, cells, "the table below"))]


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "x"


def finite(x: Any) -> bool:
    return isinstance(x, int | float) and math.isfinite(x)
