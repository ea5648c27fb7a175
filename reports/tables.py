"""The summary table: one row per compared figure, one column per system (and config). Which
figures are compared, what they are called and which way is better: the scenarios' declarations.

Each entry is the median of the repeats with its min–max spread, its multiple of the floor (the
same figure for bare Redis, where there is one) and its multiple of the best system in that row.
A system that does not support the row's feature shows as unsupported, with the cell's reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from core import summary as summaries
from core.contract import MAIN_CONFIG
from reports import metrics
from reports.run import FLOOR, Run, params_key


@dataclass
class Column:
    system: str
    config: str
    title: str
    subtitle: str
    description: str = ""

    @property
    def key(self) -> tuple[str, str]:
        return (self.system, self.config)


@dataclass
class Entry:
    median: float | None = None
    lo: float | None = None
    hi: float | None = None
    repeats: int = 0
    unit: str = ""
    ratio_floor: float | None = None
    ratio_best: float | None = None
    is_best: bool = False
    status: str = "ok"
    reason: str = ""
    ci: tuple[float, float] | None = None  # the interval around the median (core.summary)
    interval: str = "min-max"  # "bootstrap95" or "min-max"
    values: list[float] = field(default_factory=list)  # the repeats' values
    floor_ci: tuple[float, float] | None = None
    floor_name: str = ""  # which floor ratio_floor divides by
    best_ci: tuple[float, float] | None = None
    unclear: bool = False  # its interval overlaps the best's: no clear difference
    warnings: list[str] = field(default_factory=list)  # pyperf-style: unstable, high load
    concurrency: str = ""  # a throughput figure's unit of concurrency: "1 process × 10 threads"

    @property
    def text(self) -> str:
        return metrics.fmt(self.median, self.unit)

    @property
    def bounds(self) -> tuple[float, float] | None:
        """The interval shown and compared: the CI where there is one, else min-max."""
        if self.ci:
            return self.ci
        if self.lo is not None and self.hi is not None:
            return (float(self.lo), float(self.hi))
        return None

    @property
    def label(self) -> str:
        return metrics.interval_label(self.interval, self.repeats)

    @property
    def spread(self) -> str:
        b = self.bounds
        if self.repeats <= 1 or b is None:
            return ""
        return f"{metrics.fmt_range(b[0], b[1], self.unit)} ({self.label})"


@dataclass
class Row:
    scenario: str
    workload: str
    metric: str
    params: dict[str, Any]
    unit: str
    label: str
    detail: str
    better: str | None
    entries: dict[tuple[str, str], Entry] = field(default_factory=dict)


@dataclass
class Group:
    scenario: str
    title: str
    rows: list[Row]


def _ratio_ci(a: Entry, b: Entry) -> tuple[float, float] | None:
    """The interval of median(a) / median(b) from their repeats (core.summary.ratio_interval)."""
    got = summaries.ratio_interval(a.values or [v for v in (a.lo, a.hi) if v is not None],
                                   b.values or [v for v in (b.lo, b.hi) if v is not None])
    return (got[0], got[1]) if got else None


def cells_of_row(run: Run, row: dict[str, Any]) -> list[dict[str, Any]]:
    """The measured cells (every repeat) behind a summary row."""
    declared = run.scenarios.get(row["scenario"])
    return [c for c in run.cells_of(row["scenario"])
            if (c["system"], c["config"], c["workload"]) == (row["system"], row["config"], row["workload"])
            and (declared is None or params_key(declared.key_of(c["params"])) == params_key(row["params"]))]


def concurrency_unit(run: Run, row: dict[str, Any]) -> str:
    """The unit of concurrency of a throughput row: "1 process × 10 threads" (from its cells'
    processes and threads, else the config's)."""
    for c in cells_of_row(run, row):
        said = metrics.concurrency_unit(c["params"])
        if said:
            return said
    return metrics.concurrency_unit(run.config(row["system"], row["config"]))


def high_load(run: Run, row: dict[str, Any]) -> float | None:
    """The highest 1-minute load average per core at the start of the cells behind a summary
    row, when it is above metrics.HIGH_LOAD_PER_CORE (else None)."""
    cores = run.metadata.get("cores") or 1
    worst = None
    for c in cells_of_row(run, row):
        load = c.get("load_before")
        if not isinstance(load, int | float):
            continue
        worst = max(worst or 0.0, float(load) / float(cores))
    return worst if worst is not None and worst > metrics.HIGH_LOAD_PER_CORE else None


def entry_of(run: Run, r: dict[str, Any]) -> Entry:
    """A summary row of results.json as the page shows it: median, interval, floor ratio with
    its interval and the floor it divides by, and pyperf-style warnings."""
    ci = r.get("ci")
    e = Entry(median=r["median"], lo=r.get("min"), hi=r.get("max"), repeats=int(r.get("repeats") or 0),
              unit=r.get("unit", ""), ci=(float(ci[0]), float(ci[1])) if ci else None,
              interval=str(r.get("interval") or "min-max"),
              values=[float(v) for v in r.get("values") or []])
    if r.get("floor_ratio") is not None:
        e.ratio_floor = float(r["floor_ratio"])
        fci = r.get("floor_ratio_ci")
        e.floor_ci = (float(fci[0]), float(fci[1])) if fci else None
        e.floor_name = metrics.floor_words(r.get("floor_params"))
    median = r.get("median")
    if r.get("unstable") or (e.repeats > 1 and median and e.lo is not None and e.hi is not None
                             and (float(e.hi) - float(e.lo)) / abs(float(median)) > summaries.UNSTABLE_SPREAD):
        width = (float(e.hi or 0) - float(e.lo or 0)) / abs(float(median or 1))
        e.warnings.append(f"unstable: the repeats spread over {width * 100:.0f} % of the median")
    if r.get("unit", "").endswith("/s") and r["scenario"] != "latency":
        e.concurrency = concurrency_unit(run, r)
    load = high_load(run, r)
    if load is not None:
        e.warnings.append(f"run under load: load average {load:.1f} per core when a repeat started")
    return e


def main_config(run: Run, system: str) -> str:
    """The config a system is compared in: "default" where it ran, else the first it ran."""
    key = ("main_config", system)
    if key not in run.memo:
        configs = [c["config"] for c in run.cells if c["system"] == system]
        run.memo[key] = MAIN_CONFIG if MAIN_CONFIG in configs or not configs else configs[0]
    return str(run.memo[key])


def columns(run: Run) -> list[Column]:
    """The floor first, then each system in its main config (variants get their own table)."""
    out = []
    if any(c["system"] == FLOOR for c in run.cells):
        out.append(Column(FLOOR, main_config(run, FLOOR), run.title(FLOOR), "", run.full_title(FLOOR)))
    for system in run.system_names():
        if any(c["system"] == system for c in run.cells):
            config = main_config(run, system)
            out.append(Column(system, config, run.title(system), "" if config == "default" else config,
                              run.full_title(system)))
    return out


def summary(run: Run, variants: bool = False, everything: bool = False) -> list[Group]:
    """The summary table's groups of rows. variants=False: the main config of each system (the
    columns); variants=True: every config, for the variants table and comparisons.
    everything=False: the figures the scenarios declare headline (every other figure of the
    file is in summary.csv and in the sections' own tables)."""
    main = {col.key for col in columns(run)}
    rows: dict[tuple[str, ...], Row] = {}
    key: tuple[str, ...]
    for r in run.summary:
        if not variants and (r["system"], r["config"]) not in main:
            continue
        figure = run.figure(r["scenario"], r["metric"])
        if not everything and not figure.headline:
            continue
        # Rows are told apart by the parameters a reader sees (a per-system concurrency in a memory
        # cell does not make a separate row).
        key = (r["scenario"], r["workload"], r["metric"], metrics.params_label(r["params"], r["scenario"]))
        if key not in rows:
            rows[key] = Row(r["scenario"], r["workload"], r["metric"], r["params"], r.get("unit", ""),
                            figure.label, metrics.params_label(r["params"], r["scenario"]),
                            figure.better)
        rows[key].entries[(r["system"], r["config"])] = entry_of(run, r)
    # Systems that could not run a row's figure: say so, with the reason.
    for c in run.not_ok():
        if not variants and (c["system"], c["config"]) not in main:
            continue
        for key, row in rows.items():
            if key[0] == c["scenario"] and key[1] == c["workload"] \
                    and key[3] == metrics.params_label(c["params"], c["scenario"]):
                k = (c["system"], c["config"])
                # An unsupported feature is said as such even where the harness summarised the
                # cell's counts (Resque core "succeeded 0" means "has no retries").
                if k not in row.entries or c["status"] == "unsupported":
                    row.entries[k] = Entry(status=c["status"], reason=c["reason"], unit=row.unit)
    for row in rows.values():
        figure = run.figure(row.scenario, row.metric)
        floor = run.floor_value(figure.floor) if figure.floor and figure.has_floor(row.workload) else None
        values = [e.median for k, e in row.entries.items()
                  if k[0] != FLOOR and e.status == "ok" and e.median is not None and k in main]
        best = metrics.best_of([float(v) for v in values], row.better) if figure.rank else None
        for k, e in row.entries.items():
            if e.median is None or e.status != "ok":
                continue
            if floor and e.ratio_floor is None:
                e.ratio_floor = float(e.median) / floor
            if best is not None and k[0] != FLOOR and len(values) > 1 and k in main:
                e.is_best = float(e.median) == best
                if best:
                    e.ratio_best = float(e.median) / best
                    top = next(x for kk, x in row.entries.items() if kk in main and kk[0] != FLOOR
                               and x.status == "ok" and x.median == best)
                    if not e.is_best:
                        e.best_ci = _ratio_ci(e, top)
                        e.unclear = summaries.overlap(e.bounds, top.bounds)
    groups = []
    order = list(run.scenarios)
    for scenario in order + sorted({k[0] for k in rows} - set(order)):
        members = [r for k, r in rows.items() if k[0] == scenario]
        if members:
            groups.append(Group(scenario, run.scenario_title(scenario), members))
    return groups


@dataclass
class Variant:
    system: str
    config: str
    title: str
    options: str
    scenario: str
    label: str
    detail: str
    entry: Entry
    main: Entry | None
    main_config: str

    @property
    def ratio(self) -> float | None:
        if self.main and self.main.median and self.entry.median is not None and self.entry.status == "ok" \
                and self.main.status == "ok":
            return float(self.entry.median) / float(self.main.median)
        return None


def variants(run: Run) -> list[Variant]:
    """Every figure of a non-main config, next to the same figure of the system's main config:
    what turning that knob changed."""
    out = []
    main = {col.system: col.config for col in columns(run)}
    for g in summary(run, variants=True):
        for row in g.rows:
            for (system, config), e in row.entries.items():
                if system == FLOOR or main.get(system) == config:
                    continue
                options = run.config(system, config).get("options") or {}
                base = run.config(system, main.get(system, "default")).get("options") or {}
                differs = ", ".join(f"{k}={v}" for k, v in options.items() if base.get(k) != v)
                out.append(Variant(system, config, run.title(system), differs, g.scenario,
                                   row.label + (f" · {row.workload}" if row.workload else ""), row.detail, e,
                                   row.entries.get((system, main.get(system, "default"))),
                                   main.get(system, "default")))
    return out
