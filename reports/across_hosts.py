"""The across_hosts section: what adding worker hosts buys each design against one Redis, and
where that one Redis becomes the ceiling, explained from the measured figures.

Hooks of the across_hosts scenario's Section (table, plot, explain). The figures are the
scenario's own, per cell: jobs per second (the agents' probe records, clock-corrected), Redis
CPU in cores at that rate (INFO used_cpu_sys + used_cpu_user over the drain, per job, times the
rate) and Redis commands per job (INFO total_commands_processed). Repeats fold into a median and
an interval the way the summary folds them (core/summary.py: min–max of the repeats, a 95 %
bootstrap interval from 5 on). Redis executes commands on one thread, so one core is all it
can use: a design measured at rate R with Redis busy C cores would stop at about R / C jobs/s
however many hosts run its workers (its projected ceiling).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from core import summary as summaries
from reports import figures, metrics
from reports.figures import Plot, by_pair, name, style_of
from reports.run import Run, dig
from reports.sections import Table
from reports.tables import main_config

fmt = metrics.fmt

SCENARIO = "across_hosts"
ONE_CORE = 1.0  # Redis executes commands on one thread: one core is its ceiling
NEAR_CEILING = 0.7  # Redis busy this share of its one core or more: "approaches the ceiling"
CLEAR_GAIN = 1.2  # most hosts / fewest above this (or below its inverse), intervals apart: a change


@dataclass(frozen=True)
class Stat:
    """A figure over the repeats of one cell: median, interval, the repeats' values."""

    median: float
    lo: float
    hi: float
    values: list[float]
    kind: str

    @property
    def repeats(self) -> int:
        return len(self.values)


def _cells(run: Run) -> list[dict[str, Any]]:
    return run.cells_of(SCENARIO)


def _hosts(cells: list[dict[str, Any]]) -> list[int]:
    return sorted({int(c["params"].get("hosts", 1)) for c in cells})


def _at(cells: list[dict[str, Any]], hosts: int) -> list[dict[str, Any]]:
    return [c for c in cells if int(c["params"].get("hosts", 1)) == hosts]


def _stat(cells: list[dict[str, Any]], hosts: int, key: str) -> Stat | None:
    values = [
        float(v)
        for c in _at(cells, hosts)
        if isinstance(v := dig(c["metrics"], key), int | float) and not isinstance(v, bool)
    ]
    if not values:
        return None
    s = summaries.spread(values)
    lo, hi = s["ci"]
    return Stat(float(s["median"]), float(lo), float(hi), list(s["values"]), str(s["interval"]))


def _main(run: Run) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """Each system's main config with its cells: what the plot draws and the text compares."""
    return [(s, c, cells) for s, c, cells in by_pair(run, _cells(run)) if c == main_config(run, s)]


def ceiling(rate: float | None, cpu: float | None) -> float | None:
    """The rate at which Redis would be one core busy: rate × (1 core / Redis CPU at that rate)."""
    if rate is None or cpu is None or cpu <= 0:
        return None
    return rate * ONE_CORE / cpu


@dataclass(frozen=True)
class Scaling:
    """One system/config over the hosts measured: what the explanation and the table say."""

    who: str
    hosts: list[int]
    rate: dict[int, Stat]
    cpu: dict[int, Stat]
    ops: dict[int, Stat]

    @property
    def ratio(self) -> float | None:
        """Throughput on the most hosts / on the fewest (medians)."""
        first, last = self.hosts[0], self.hosts[-1]
        if last == first or first not in self.rate or last not in self.rate:
            return None
        base = self.rate[first].median
        return self.rate[last].median / base if base > 0 else None

    @property
    def verdict(self) -> str:
        """From the fewest hosts to the most: "gains", "loses" or "no clear change"."""
        r = self.ratio
        if r is None:
            return "no clear change"
        a, b = self.rate[self.hosts[0]], self.rate[self.hosts[-1]]
        apart = not summaries.overlap([a.lo, a.hi], [b.lo, b.hi])
        if r >= CLEAR_GAIN and apart:
            return "gains"
        if r <= 1 / CLEAR_GAIN and apart:
            return "loses"
        return "no clear change"

    @property
    def best(self) -> int | None:
        """The number of hosts with the highest median rate."""
        return max(self.rate, key=lambda h: self.rate[h].median) if self.rate else None

    def ceiling_at(self, hosts: int) -> float | None:
        rate, cpu = self.rate.get(hosts), self.cpu.get(hosts)
        return ceiling(rate.median if rate else None, cpu.median if cpu else None)


def scaling(run: Run, system: str, config: str, cells: list[dict[str, Any]]) -> Scaling:
    hosts = _hosts(cells)

    def each(key: str) -> dict[int, Stat]:
        return {h: s for h in hosts if (s := _stat(cells, h, key)) is not None}

    return Scaling(
        name(run, system, config),
        hosts,
        each("throughput_per_s"),
        each("redis_cpu"),
        each("redis_ops_per_job"),
    )


def _ops(sc: Scaling) -> str:
    """Commands per job over the hosts: one figure when they agree to a tenth, else a range."""
    vals = sorted({round(s.median, 1) for s in sc.ops.values()})
    if not vals:
        return "—"
    return f"{vals[0]:.1f}" if len(vals) == 1 else f"{vals[0]:.1f}–{vals[-1]:.1f}"


def _x(r: float) -> str:
    return f"×{r:.2f}"


def cores(c: float | None) -> str:
    """Redis CPU for people: 0.25 cores, 0.035 cores (three places below a tenth)."""
    if c is None:
        return "—"
    return f"{c:.2f} cores" if c >= 0.1 else f"{c:.3f} cores"


# ---------------------------------------------------------------------------------------------
# table


def table(run: Run) -> Table | None:
    rows = []
    for system, config, cells in by_pair(run, _cells(run)):
        sc = scaling(run, system, config, cells)
        base = sc.rate.get(sc.hosts[0]) if sc.hosts else None
        for h in sc.hosts:
            rate, cpu, ops = sc.rate.get(h), sc.cpu.get(h), sc.ops.get(h)
            ops_s = _stat(cells, h, "redis_ops_per_s")
            chosen = figures.median_cell(_at(cells, h), "throughput_per_s")
            per_host = dig(chosen["metrics"], "jobs_per_host") if chosen else None
            rows.append(
                [
                    sc.who,
                    h,
                    fmt(rate.median if rate else None, "jobs/s"),
                    metrics.fmt_range(rate.lo, rate.hi, "jobs/s")
                    if rate and rate.repeats > 1
                    else "",
                    _x(rate.median / base.median) if rate and base and base.median > 0 else "",
                    cores(cpu.median if cpu else None),
                    fmt(ops_s.median if ops_s else None, "ops/s"),
                    f"{ops.median:.2f}" if ops else "—",
                    fmt(sc.ceiling_at(h), "jobs/s"),
                    ", ".join(f"{k} {v:,}" for k, v in per_host.items())
                    if isinstance(per_host, dict)
                    else "",
                    rate.repeats if rate else 0,
                ]
            )
    if not rows:
        return None
    return Table(
        SCENARIO,
        "Throughput and the one Redis's load per number of hosts (medians of the "
        "repeats; jobs per host from the median repeat)",
        [
            "system",
            "hosts",
            "throughput",
            "interval",
            "× fewest hosts",
            "Redis CPU",
            "Redis commands/s",
            "commands / job",
            "ceiling at one Redis core",
            "jobs per host",
            "repeats",
        ],
        rows,
        {2, 3, 5, 6, 7, 8, 9, 11},
    )


# ---------------------------------------------------------------------------------------------
# plot


def _log_axis(ax: Any, fmt_tick: Any) -> None:
    ax.set_yscale("log")
    lo, hi = ax.get_ylim()
    if lo > 0 and hi / lo < 100:  # under two decades: label 1-2-5 steps, not one lone decade
        ax.yaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
    ax.yaxis.set_major_formatter(FuncFormatter(fmt_tick))
    ax.yaxis.set_minor_formatter(NullFormatter())


@figures.styled
def plot(run: Run) -> list[Plot]:
    drawn = _main(run)
    if not drawn:
        return []
    fig = figures._figure(10, 3.8)
    left, right = fig.subplots(1, 2)
    alt = []
    hosts_all: set[int] = set()
    for system, config, cells in drawn:
        sc = scaling(run, system, config, cells)
        st = style_of(run, system, config)
        for ax, stats in ((left, sc.rate), (right, sc.cpu)):
            xs = [h for h in sc.hosts if h in stats]
            if not xs:
                continue
            med = [stats[h].median for h in xs]
            ax.errorbar(
                xs,
                med,
                yerr=[
                    [stats[h].median - stats[h].lo for h in xs],
                    [stats[h].hi - stats[h].median for h in xs],
                ],
                marker="o",
                capsize=3,
                linewidth=1.8,
                label=sc.who,
                **st,
            )
        hosts_all.update(sc.hosts)
        alt.append(
            f"{sc.who}: "
            + ", ".join(
                f"{fmt(sc.rate[h].median, 'jobs/s')} with Redis at "
                f"{cores(sc.cpu[h].median if h in sc.cpu else None)} on {h} host"
                f"{'s' if h > 1 else ''}"
                for h in sc.hosts
                if h in sc.rate
            )
        )
    right.axhline(ONE_CORE, color="#555555", linestyle=":", linewidth=1.2)
    right.text(
        min(hosts_all),
        ONE_CORE * 0.9,
        " one core: the single Redis's ceiling",
        va="top",
        fontsize=8,
        color="#555555",
    )
    _log_axis(left, lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}")
    _log_axis(right, lambda v, _: f"{v:g}")
    for ax in (left, right):
        ax.set_xticks(sorted(hosts_all))
        ax.set_xlabel("hosts running workers")
        if len(hosts_all) == 1:
            h = next(iter(hosts_all))
            ax.set_xlim(h - 0.5, h + 0.5)
    left.set_ylabel("jobs/s, worker side (log)")
    right.set_ylabel("Redis CPU at that rate (cores, log)")
    left.set_title("throughput")
    right.set_title("how busy the one Redis was")
    figures._legend_below(fig, left, 4)
    return [
        figures._svg(
            fig,
            SCENARIO,
            "Throughput and Redis CPU against the number of hosts, "
            "median of repeats with interval bars: " + "; ".join(alt),
        )
    ]


# ---------------------------------------------------------------------------------------------
# explanation


def _h(n: int) -> str:
    return f"{n} host{'s' if n != 1 else ''}"


def _rates(sc: Scaling) -> str:
    return ", ".join(
        f"{fmt(sc.rate[h].median, 'jobs/s')} on {_h(h)}" for h in sc.hosts if h in sc.rate
    )


def _verdict(sc: Scaling) -> str:
    """The ratio most hosts / fewest and what it says (", it gains from added hosts")."""
    r = sc.ratio
    if r is None:
        return ""
    said = {
        "gains": "it gains from added hosts",
        "loses": "it loses throughput as hosts are added",
        "no clear change": f"no clear change (under {_x(CLEAR_GAIN)} either way, or the "
        "intervals overlap)",
    }[sc.verdict]
    if sc.verdict != "no clear change" and min(s.repeats for s in sc.rate.values()) < 2:
        said += " (one repeat: no interval to tell it from noise)"
    return f"; {_h(sc.hosts[-1])} / {_h(sc.hosts[0])} {_x(r)}, {said}"


def _overview(systems: list[Scaling]) -> str | None:
    """Which systems gained from added hosts, which lost, which did not clearly change, with the
    ratio of each (most hosts / fewest)."""
    first = min(h for sc in systems for h in sc.hosts)
    last = max(h for sc in systems for h in sc.hosts)
    if last == first:
        return None
    said = []
    for verdict, words in (
        ("gains", "gained"),
        ("loses", "lost"),
        ("no clear change", "no clear change"),
    ):
        who = [f"{sc.who} {_x(sc.ratio)}" for sc in systems if sc.verdict == verdict and sc.ratio]
        if who:
            said.append(f"{words}: {', '.join(who)}")
    if not any(sc.verdict == "gains" for sc in systems):
        said.insert(0, "no system clearly gained")
    return f"From {_h(first)} to {last}, " + "; ".join(said) + "."


def _redis_load(run: Run, systems: list[Scaling]) -> str | None:
    """Where Redis approached its one core, or how far from it it stayed."""
    cpus = [(sc, h, st.median) for sc in systems for h, st in sc.cpu.items()]
    if not cpus:
        return None
    near = [(sc, h, c) for sc, h, c in cpus if c >= NEAR_CEILING]
    if near:
        return (
            "Redis approached its one core ("
            + ", ".join(f"{cores(c)} for {sc.who} on {_h(h)}" for sc, h, c in near)
            + "): there the single Redis is the ceiling, and more hosts cannot lift it."
        )
    sc, h, c = max(cpus, key=lambda x: x[2])
    machine = run.metadata.get("cores")
    return (
        f"Redis never approached its one core: the busiest it got was {cores(c)} ({sc.who} on "
        f"{_h(h)}). What held the rates back was elsewhere: the workers themselves, or CPUs "
        "the hosts share"
        + (
            f" (hosts that are namespaces of one machine, as a testnet's "
            f"are, share its {machine} cores with Redis)"
            if isinstance(machine, int)
            else ""
        )
        + "."
    )


def explain(run: Run) -> list[str]:
    systems = [sc for s, c, cells in _main(run) if (sc := scaling(run, s, c, cells)).rate]
    if not systems:
        return []
    out = [s for s in (_overview(systems),) if s]
    ceilings: list[tuple[Scaling, float]] = []
    for sc in systems:
        s = f"{sc.who}: {_rates(sc)}{_verdict(sc)}."
        best = sc.best
        cpu = sc.cpu.get(best) if best is not None else None
        top = sc.ceiling_at(best) if best is not None else None
        if best is not None and cpu is not None and top is not None:
            ceilings.append((sc, top))
            rate = sc.rate[best].median
            s += (
                f" Redis ran {_ops(sc)} commands per job and was {cores(cpu.median)} busy at "
                f"its best rate ({fmt(rate, 'jobs/s')} on {_h(best)}): at one core it would "
                f"stop at about {fmt(top, 'jobs/s')}, {top / rate:.1f}× that rate."
            )
        out.append(s)
    out += [s for s in (_redis_load(run, systems),) if s]
    if len(ceilings) >= 2:
        ceilings.sort(key=lambda t: t[1])
        (lo_sc, lo), (hi_sc, hi) = ceilings[0], ceilings[-1]
        out.append(
            f"Redis's cost per job sets each ceiling: one core serves about "
            f"{fmt(hi, 'jobs/s')} of {hi_sc.who} ({_ops(hi_sc)} commands per job) but "
            f"{fmt(lo, 'jobs/s')} of {lo_sc.who} ({_ops(lo_sc)}), {hi / lo:.0f}× fewer."
        )
    if ceilings:
        sc, top = max(ceilings, key=lambda t: t[1])
        out.append(
            "Past that ceiling only more Redis helps. Sharding the queues over k Redis "
            "servers (each queue's producers and workers pointed at its shard, as Sidekiq's "
            "sharding or Resque's per-queue servers do) multiplies it by k: for "
            f"{sc.who}, about {fmt(2 * top, 'jobs/s')} on 2 shards, "
            f"{fmt(4 * top, 'jobs/s')} on 4. Redis Cluster spreads keys over nodes, but a "
            "queue is one key and lives on one node: a single hot queue keeps one node's "
            "ceiling, only several queues spread."
        )
    return out
