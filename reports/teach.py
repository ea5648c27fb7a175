""""What it teaches": short explanations written from the measured numbers.

Every sentence here is built from the run's own figures and only says what those figures show:
a polling worker is said to pick a job up half an interval late only when its measured median
is near half its configured interval; a knee in the latency curve is named only where the p99
really rises. Unsupported features are said as such, with the reason the harness recorded.
Each function returns a list of plain-text sentences (the template escapes them).
"""

from __future__ import annotations

import statistics
from typing import Any

from reports import figures, metrics
from reports.figures import by_pair, expected_share, kill_target, name
from reports.run import FLOOR, Run, dig

fmt = metrics.fmt

# When a sentence may say something: each threshold is the evidence a claim needs.
FLAT_GAIN_PCT = 10  # more workers than cores gaining less than this: the cores are the limit
HALF_INTERVAL = (0.35, 0.65)  # a polling p50 in this share of the interval reads "half an interval"
WHOLE_INTERVAL = (0.8, 1.3)  # a polling p99 in this share of the interval reads "the whole interval"
CROWDED_SLEEP_JOBS = 2  # this many arrivals per polling sleep: they share one wake-up
PRODUCER_SHORTFALL = 0.9  # a producer below this share of the offered rate measured a lighter load
KNEE_FACTOR = 10  # the load step whose p99 exceeds the idle p99 this many times is the knee
KNEE_RATE_SLACK = 1.05  # a drain rate this close above the knee's rate still lies "at the knee"
RSS_OVER_PSS = 1.15  # a sum of RSS this much above PSS: copy-on-write sharing worth explaining
WAIT_TOLERANCE_S = 0.05  # scheduling and clock noise allowed around a retry policy's window
POLL_SLACK_S = 1.0  # a Sidekiq-style retry without a known poller interval: Sidekiq's own default
SIDEKIQ_RETRY_BASE_S = 15  # Sidekiq's delay before retry k: k**4 + 15 + rand(10) * (k + 1)
SIDEKIQ_JITTER_STEPS = 9  # rand(10) draws 0..9
SAME_CHECK_FRACTION = 0.1  # start errors closer together than this share: one poller check
POLLER_HALF = (0.3, 0.75)  # a scheduled p50 in this share of the poller interval: "half of it"
SELF_TIMED_MS = 50  # a delayed job starting within this of its plan was timed by the worker itself
STRICT_SHARE = 0.95  # the high queue's share at which strict order is confirmed
PROMISE_TOLERANCE = 0.05  # a weighted share this close to its promise keeps the promise


def _row(run: Run, scenario: str, metric: str, system: str, config: str = "default",
         workload: str | None = None, **params: Any) -> dict[str, Any] | None:
    for r in run.rows(scenario, metric):
        if r["system"] == system and r["config"] == config \
                and (workload is None or r["workload"] == workload) \
                and all(r["params"].get(k) == v for k, v in params.items()):
            return r
    return None


def _median(cells: list[dict[str, Any]], path: str) -> float | None:
    """Median over repeats (`cells`) of a cell figure (for figures the summary does not carry)."""
    values = [dig(c["metrics"], path) for c in cells]
    nums = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    return statistics.median(nums) if nums else None


def _option(run: Run, system: str, config: str, *keys: str) -> Any:
    options = run.config(system, config).get("options") or {}
    for key in keys:
        if options.get(key) is not None:
            return options[key]
    return None


def unsupported(run: Run, scenario: str) -> list[str]:
    out = []
    labels = {metrics.params_label(c["params"], scenario) for c in run.cells_of(scenario, status=None)}
    for c in run.not_ok(scenario):
        what = {"unsupported": "not supported", "error": "failed", "skipped": "skipped"}.get(
            c["status"], c["status"])
        detail = metrics.params_label(c["params"], scenario) if len(labels) > 1 else ""
        out.append(f"{name(run, c['system'], c['config'])}{f' ({detail})' if detail else ''}: "
                   f"{what} — {c['reason'] or 'no reason was recorded'}.")
    return out


def _floor_range(run: Run, path: str) -> tuple[Any, Any]:
    """The floor's min and max over its repeats at `path`, as the summary has them (else None, None)."""
    rows = run.rows("floor", path)
    return (rows[0].get("min"), rows[0].get("max")) if rows else (None, None)


def _times(x: float) -> str:
    return metrics.fmt_ratio(x)


# ---------------------------------------------------------------------------------------------


def floor(run: Run) -> list[str]:
    hop50, hop99 = run.floor_value("hop_latency_us.p50"), run.floor_value("hop_latency_us.p99")
    tp = run.floor_value("throughput_per_s")
    if hop50 is None and tp is None:
        return ["No floor was measured in this run, so no figure is shown as a multiple of Redis itself."]
    out = []
    if hop50 is not None:
        quicker = sorted((float(r["median"]), r) for r in run.rows("latency", "latency_us.p50")
                         if r["system"] != FLOOR and r["median"] is not None and r["median"] < hop50)
        if not quicker:
            out.append(f"A bare redis-py LPUSH → BRPOP hop on this Redis takes {fmt(hop50, 'us')} at the "
                       f"median ({fmt(hop99, 'us')} p99): the Redis round trip every queue built on it pays at "
                       "least once before a job starts.")
        else:
            v, r = quicker[0]
            lo, hi = _floor_range(run, "hop_latency_us.p50")
            spread_txt = (f" (its repeats: {metrics.fmt_range(lo, hi, 'us')})"
                          if lo is not None and hi is not None and lo != hi else "")
            out.append(f"A bare redis-py LPUSH → BRPOP hop on this Redis takes {fmt(hop50, 'us')} at the "
                       f"median{spread_txt}, {fmt(hop99, 'us')} p99. Yet {name(run, r['system'], r['config'])} "
                       f"started jobs sooner ({fmt(v, 'us')} p50, "
                       f"{metrics.params_label(r['params'], 'latency') or 'one load step'}): the hop is measured "
                       "separately, on a machine whose load changes from minute to minute, so read it as the "
                       "scale of one Redis round trip, not as a bound no queue can beat.")
    if tp is not None:
        out.append(f"One connection popping in a loop moves {fmt(tp, 'jobs/s')}; every multiple of "
                   "the floor in the table is what a queue design adds on top of Redis itself.")
    return out


def summary(run: Run) -> list[str]:
    out = []
    tp_rows = [r for r in run.rows("throughput", "throughput_per_s") if r["system"] != FLOOR]
    for workload in sorted({r["workload"] for r in tp_rows}, key=lambda w: (w != "noop", w)):
        best: dict[tuple[str, str], dict[str, Any]] = {}
        for r in tp_rows:
            if r["workload"] == workload:
                k = (r["system"], r["config"])
                if k not in best or r["median"] > best[k]["median"]:
                    best[k] = r
        if len(best) < 2:
            continue
        ranked = sorted(best.values(), key=lambda r: r["median"], reverse=True)
        top, low = ranked[0], ranked[-1]
        floor_tp = run.floor_value("throughput_per_s")
        vs_floor = ""
        if floor_tp and workload == "noop":  # the floor is a loop popping empty jobs
            ratio = top["median"] / floor_tp
            vs_floor = (f" ({_times(ratio)} the bare Redis loop" +
                        (", which pops on one connection only: above it means several connections "
                         "at once, not a queue faster than Redis)" if ratio >= 1 else ")"))
        out.append(f"Fastest drain of {workload} jobs: {name(run, top['system'], top['config'])}, "
                   f"{fmt(top['median'], 'jobs/s')} at concurrency {top['params'].get('concurrency', '?')}"
                   f"{vs_floor}; slowest: {name(run, low['system'], low['config'])}, "
                   f"{fmt(low['median'], 'jobs/s')} (the fastest drains {_times(top['median'] / low['median'])} "
                   "as many).")
    idle = []
    for system, config, cells in by_pair(run, run.cells_of("latency")):
        pts = _latency_points(cells)
        if pts and pts[0]["p50"] is not None:
            idle.append((float(pts[0]["p50"]), system, config, pts[0]))
    idle.sort(key=lambda t: t[0])
    if len(idle) > 1:
        (f50, fs, fc, fp), (s50, ss, sc, sp) = idle[0], idle[-1]
        out.append(f"At the lightest load the quickest to start a job is {name(run, fs, fc)} "
                   f"(p50 {fmt(f50, 'us')} at {metrics.fmt_rate(fp['rate'])} jobs/s), the slowest {name(run, ss, sc)} "
                   f"(p50 {fmt(s50, 'us')} at {metrics.fmt_rate(sp['rate'])} jobs/s, {_times(s50 / f50)}).")
    mem = sorted(run.rows("memory", "peak.uss"), key=lambda r: r["median"])
    if len(mem) > 1:
        out.append(f"Smallest at peak: {name(run, mem[0]['system'], mem[0]['config'])} "
                   f"({fmt(mem[0]['median'], 'bytes')} USS); largest: "
                   f"{name(run, mem[-1]['system'], mem[-1]['config'])} ({fmt(mem[-1]['median'], 'bytes')}, "
                   f"{_times(mem[-1]['median'] / mem[0]['median'])}).")
    sustained = [(r["median"], r["system"], r["config"]) for r in run.rows("latency", "max_sustainable_rate")
                 if r["system"] != FLOOR]
    limited = sorted({name(run, c["system"], c["config"]) for c in run.cells_of("latency")
                      if c["metrics"].get("generator_limited") and "steps" in c["metrics"]})
    if sustained or limited:
        out.append("Maximum sustainable rate (backlog bounded and p99 under its bound for a whole step): "
                   + "; ".join(f"{name(run, s, c)} {fmt(v, 'jobs/s')}" for v, s, c in sorted(sustained, reverse=True))
                   + (("; " if sustained else "") + "generator-limited in some repeats, left out of this figure: "
                      + ", ".join(limited) if limited else "") + ".")
    lost = [r for r in run.rows("crash", "counts.lost") if r["median"]]
    if lost:
        out.append("Jobs lost when a process was killed: " + "; ".join(
            f"{name(run, r['system'], r['config'])} {fmt(r['median'], 'jobs')} "
            f"({metrics.params_label(r['params'], 'crash')})" for r in lost) + ".")
    if not out:
        out.append("This run holds too few figures to rank the systems against each other.")
    return out


def throughput(run: Run) -> list[str]:
    out = []
    cores = run.metadata.get("cores")
    rows = [r for r in run.rows("throughput", "throughput_per_s")]
    measured = by_pair(run, run.cells_of("throughput"))
    for workload in sorted({r["workload"] for r in rows}, key=lambda w: (w != "noop", w)):
        mine = [r for r in rows if r["workload"] == workload]
        flat: list[tuple[str, int, float]] = []
        for system, config, _ in measured:
            pts = sorted((int(r["params"].get("concurrency") or 1), r["median"]) for r in mine
                          if (r["system"], r["config"]) == (system, config))
            if len(pts) < 2:
                continue
            (c0, t0), (c1, t1) = pts[0], pts[-1]
            out.append(f"{name(run, system, config)} ({workload}): {fmt(t0, 'jobs/s')} at concurrency "
                       f"{c0}, {fmt(t1, 'jobs/s')} at {c1} ({_times(t1 / t0)}).")
            at_cores = dict(pts).get(cores) if cores else None
            if at_cores and cores and c1 > cores:
                flat.append((name(run, system, config), c1, (t1 / at_cores - 1) * 100))
        if flat and cores:
            stuck = [f"{who} {gain:+.0f} % ({cores} → {c1})" for who, c1, gain in flat
                     if gain < FLAT_GAIN_PCT]
            if stuck:
                out.append(f"Past concurrency {cores} this machine's {cores} cores are the limit; more "
                           f"workers change the {workload} throughput of " + ", ".join(stuck) + ".")
        # Two configs of one system: the cost of what differs between them, per job.
        by_sys: dict[str, list[tuple[str, float]]] = {}
        for r in mine:
            if r["params"].get("concurrency") == 1:
                by_sys.setdefault(r["system"], []).append((r["config"], r["median"]))
        for system, configs in by_sys.items():
            if len(configs) < 2:
                continue
            configs.sort(key=lambda c: c[1])
            (slow, ts), (fast, tf) = configs[0], configs[-1]
            what_slow = ", ".join(f"{k}={v}" for k, v in (run.config(system, slow).get("options") or {}).items()
                                  if (run.config(system, fast).get("options") or {}).get(k) != v)
            cost_ms = (1 / ts - 1 / tf) * 1e3
            out.append(f"{run.title(system)}: the {fast} config drains {_times(tf / ts)} the {slow} "
                       f"config's rate with one worker ({workload}); what differs ({what_slow or 'its options'}) "
                       f"costs about {metrics.sig(cost_ms, 2)} ms per job.")
        floor_tp = run.floor_value("throughput_per_s")
        if floor_tp and mine and workload == "noop":
            top = max(mine, key=lambda r: r["median"])
            ratio = top["median"] / floor_tp
            who = name(run, top["system"], top["config"])
            if ratio < 1:
                out.append(f"Even the fastest, {who}, reaches {_times(ratio)} of the bare Redis loop on {workload}: "
                           "the rest is the queue's own work per job (payload encoding, bookkeeping, the "
                           "worker's loop).")
            else:
                n = top["params"].get("n")
                lo, hi = _floor_range(run, "throughput_per_s")
                within = (isinstance(lo, int | float) and isinstance(hi, int | float)
                          and lo <= top["median"] <= hi)
                out.append(f"{who} drains {_times(ratio)} the bare Redis loop, which pops on one connection: a "
                           "figure above the floor comes from popping on several connections at once, or from "
                           f"too few jobs to time well{f' ({n} here)' if n else ''}"
                           + (f"; the floor's own repeats spread {metrics.fmt_range(lo, hi, 'jobs/s')}, so "
                              "this is no measured gain over Redis itself." if within else "."))
        if workload != "noop" and cores and mine:
            top = max(mine, key=lambda r: r["median"])
            out.append(f"With the {workload} workload at most {cores} jobs compute at once on {cores} cores, "
                       f"so the best figure, {fmt(top['median'], 'jobs/s')}, means at least about "
                       f"{metrics.sig(cores * 1e3 / top['median'], 2)} ms of CPU per job spread over the cores.")
    boots = []
    for system, config, cells in measured:
        wall, drain = _median(cells, "wall_s"), _median(cells, "drain_s")
        if wall is not None and drain is not None:
            boots.append((wall - drain, system, config))
    if boots:
        boots.sort()
        b, s, c = boots[-1]
        out.append(f"Wall time adds worker boot: {name(run, s, c)} spends about {fmt(b, 's')} before its "
                   f"first job (the quickest, {name(run, boots[0][1], boots[0][2])}, {fmt(boots[0][0], 's')}).")
    return out + unsupported(run, "throughput")


def _latency_points(cells: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One point per load step of one system and config's latency `cells`: offered rate, p50,
    p99 (medians over repeats), the drain rate the step was derived from, in load order."""
    steps: dict[float, list[dict[str, Any]]] = {}
    for c in cells:
        steps.setdefault(metrics.load_step(c["params"], c["metrics"].get("offered_rate"))[0], []).append(c)
    out = []
    for order in sorted(steps):
        group = steps[order]
        refs = [c["params"].get("reference_throughput") for c in group if c["params"].get("reference_throughput")]
        out.append({"order": order, "title": metrics.load_step(group[0]["params"])[1],
                    "rate": _median(group, "offered_rate") or float(group[0]["params"].get("rate") or 0),
                    "p50": _median(group, "latency_us.p50"), "p99": _median(group, "latency_us.p99"),
                    "workload": group[0]["workload"], "params": group[0]["params"],
                    "reference": statistics.median(refs) if refs else None})
    return out


def latency(run: Run) -> list[str]:
    out = []
    hop = run.floor_value("hop_latency_us.p50")
    measured = by_pair(run, run.cells_of("latency"))
    for system, config, cells in measured:
        pts = _latency_points(cells)
        if not pts or pts[0]["p50"] is None:
            continue
        first = pts[0]
        p50, p99, rate = float(first["p50"]), first["p99"], first["rate"]
        # A blocking pop's "interval" is its timeout, not a sleep: such a worker does not poll.
        blocking = _option(run, system, config, "blocking") is True
        timeout = _option(run, system, config, "interval") if blocking else None
        interval = None if blocking else _option(run, system, config, "interval", "poll_interval_s")
        who = name(run, system, config)
        at = f"at {metrics.fmt_rate(rate)} jobs/s"
        if isinstance(interval, int | float) and interval > 0:
            frac = p50 / (interval * 1e6)
            if HALF_INTERVAL[0] <= frac <= HALF_INTERVAL[1]:
                tail = (f"; its p99 of {fmt(p99, 'us')} is close to the whole interval"
                        if p99 and WHOLE_INTERVAL[0] <= p99 / (interval * 1e6) <= WHOLE_INTERVAL[1]
                        else "")
                out.append(f"{who}'s median start delay is {fmt(p50, 'us')} with a {interval:g} s "
                           f"polling interval: a polling worker picks a job up half an interval late on "
                           f"average{tail}.")
            else:
                crowd = rate * interval
                step = [c for c in cells if all(c["params"].get(k) == v for k, v in first["params"].items())]
                jobs = _median(step, "latency_us.count")
                if jobs and crowd >= jobs:
                    tail = (f": the cell's {jobs:.0f} jobs arrived over about {metrics.sig(jobs / rate, 2)} s, "
                            f"less than one {interval:g} s sleep, so they all waited for the same one or two "
                            "wake-ups; where those fell sets the delay (half an interval on average only over "
                            "many wake-ups).")
                elif crowd >= CROWDED_SLEEP_JOBS:
                    tail = f": about {crowd:.0f} jobs arrive during each sleep and all wait for the same wake-up."
                else:
                    tail = "."
                out.append(f"{who} polls every {interval:g} s and its median start delay is "
                           f"{fmt(p50, 'us')} ({frac * 100:.0f} % of the interval) {at}" + tail)
        elif hop:
            how = f", a blocking pop (its {timeout:g} s interval is only the pop's timeout)," if timeout else ""
            out.append(f"{who}{how} starts a job {fmt(p50, 'us')} after it is enqueued {at} (p50), "
                       f"{_times(p50 / hop)} the bare Redis hop" + (f"; p99 {fmt(p99, 'us')}." if p99 else "."))
        else:
            out.append(f"{who} starts a job {fmt(p50, 'us')} after it is enqueued {at} (p50).")
    for system, config, cells in measured:
        for c in cells:
            offered, achieved = c["metrics"].get("offered_rate"), c["metrics"].get("achieved_rate")
            if isinstance(offered, int | float) and isinstance(achieved, int | float) and offered \
                    and achieved < PRODUCER_SHORTFALL * offered:
                out.append(f"Careful with {name(run, system, config)} at {metrics.fmt_rate(offered)} jobs/s offered "
                           f"(repeat {c['repeat']}): the producer reached only {metrics.fmt_rate(achieved)} jobs/s, "
                           "so that cell measured a lighter load than it asked for.")
    return out + unsupported(run, "latency")


def latency_load(run: Run) -> list[str]:
    out = []
    for system, config, cells in by_pair(run, run.cells_of("latency")):
        pts = [p for p in _latency_points(cells) if p["p99"] is not None]
        if len(pts) < 2:
            continue
        base = pts[0]
        knee = next((p for p in pts[1:] if p["p99"] > KNEE_FACTOR * base["p99"]), None)
        conc = run.config(system, config).get("concurrency")
        ref = next((p["reference"] for p in pts if p["reference"]), None)
        if ref is None:
            row = _row(run, "throughput", "throughput_per_s", system, config, base["workload"], concurrency=conc)
            ref = row["median"] if row else None
        who = name(run, system, config)
        drain_txt = f"; its measured drain rate is {fmt(ref, 'jobs/s')}" if ref else ""
        if knee:
            before = [p for p in pts if p["rate"] < knee["rate"]] or [base]
            inside = ref is not None and before[-1]["rate"] <= ref <= knee["rate"] * KNEE_RATE_SLACK
            out.append(f"{who}: p99 {fmt(base['p99'], 'us')} at {metrics.fmt_rate(base['rate'])}/s, {fmt(knee['p99'], 'us')} at "
                       f"{metrics.fmt_rate(knee['rate'])}/s{drain_txt}. The knee lies between {metrics.fmt_rate(before[-1]['rate'])} and "
                       f"{metrics.fmt_rate(knee['rate'])} jobs/s" + (", where its drain rate lies" if inside else "")
                       + ": past it jobs arrive about as fast as they drain, a queue builds up, and latency is "
                       "set by the queue's length, not by the design.")
        else:
            top = pts[-1]
            out.append(f"{who}: p99 goes from {fmt(base['p99'], 'us')} to {fmt(top['p99'], 'us')} across "
                       f"{metrics.fmt_rate(base['rate'])}–{metrics.fmt_rate(top['rate'])} jobs/s{drain_txt}: the highest load offered is still "
                       "below its knee.")
    return out


def memory(run: Run) -> list[str]:
    out = []
    shared = []
    peaks = []
    for system, label, cells in figures.by_flight(by_pair(run, run.cells_of("memory"))):
        m = cells[0]["metrics"]
        get = {k: _median(cells, k) for k in ("idle.uss", "peak.uss", "peak.pss", "peak.rss", "peak.processes")}
        if get["peak.uss"] is not None:
            peaks.append((get["peak.uss"], system, label))
        who = figures.flight_name(run, system, label)
        procs = int(get["peak.processes"] or 0)
        model = m.get("model", "?")
        out.append(f"{who}, {model} at concurrency {m.get('concurrency', '?')}: {fmt(get['idle.uss'], 'bytes')} "
                   f"USS idle, {fmt(get['peak.uss'], 'bytes')} at peak in {procs} process"
                   f"{'es' if procs != 1 else ''}.")
        if procs > 1 and get["peak.rss"] and get["peak.pss"] and get["peak.rss"] > RSS_OVER_PSS * get["peak.pss"]:
            shared.append(f"{who} {_times(get['peak.rss'] / get['peak.pss'])} "
                          f"({fmt(get['peak.rss'], 'bytes')} against {fmt(get['peak.pss'], 'bytes')})")
    if shared:
        out.append("Copy-on-write: the processes of one tree share pages (after the fork, and shared "
                   "libraries), and a sum of RSS counts each shared page once per process. PSS splits them "
                   "fairly; read PSS. RSS sum against PSS at peak: " + "; ".join(shared) + ".")
    out += threads_vs_processes(run)
    peaks.sort()
    if len(peaks) > 1:
        out.append(f"{figures.flight_name(run, peaks[-1][1], peaks[-1][2])} needs {_times(peaks[-1][0] / peaks[0][0])} "
                   f"the memory of {figures.flight_name(run, peaks[0][1], peaks[0][2])} at peak (USS).")
    return out + unsupported(run, "memory")


def _planned(policy: dict[str, Any], k: int, options: dict[str, Any] | None = None) -> tuple[float, float] | None:
    """The policy's own window for the wait before retry k (0-based), where it can be read:
    the native delay, plus the interval of whatever poller moves a due retry back to work."""
    retry: dict[str, Any] = policy["Retry"] if isinstance(policy.get("Retry"), dict) else {}
    delay: Any = None
    for value in (retry.get("interval"), policy.get("retry_delay"), policy.get("countdown"),
                  policy.get("retry_in_s"), policy.get("delay_s")):
        if value is not None:
            delay = value
            break
    if isinstance(delay, list):
        delay = delay[min(k, len(delay) - 1)] if delay else None
    where = [policy, policy.get("config_options") or {}, options or {}]
    slack = next((float(d[k2]) for d in where for k2 in ("scheduler_interval", "poll_interval")
                  if isinstance(d, dict) and isinstance(d.get(k2), int | float)), 0.0)
    if isinstance(delay, int | float):
        return float(delay), float(delay) + slack
    if "count**4" in str(policy.get("schedule", "")):
        scale = float(policy.get("retry_in_scale") or 1)
        low = k**4 + SIDEKIQ_RETRY_BASE_S
        return low * scale, (low + SIDEKIQ_JITTER_STEPS * (k + 1)) * scale + (slack or POLL_SLACK_S)
    if policy.get("retry_backoff"):
        b = float(policy["retry_backoff"]) * 2**k
        return (0.0 if policy.get("retry_jitter") else b), b
    return None


def retries(run: Run) -> list[str]:
    out = []
    for system, config, cells in by_pair(run, run.cells_of("retries")):
        c = figures.median_cell(cells, "time_to_success_s.p50")
        if c is None:
            continue
        m = c["metrics"]
        jobs = m.get("jobs") or []
        if not jobs:
            continue
        who = name(run, c["system"], c["config"])
        attempts = [len(j["attempts"]) for j in jobs]
        finals = [j["final"] for j in jobs]
        waits: dict[int, list[float]] = {}
        for j in jobs:
            at = sorted(j["attempts"], key=lambda a: a["start"])
            for k in range(len(at) - 1):
                waits.setdefault(k, []).append((at[k + 1]["start"] - at[k]["end"]) / 1e9)
        said = "; ".join(f"before retry {k + 1}: {metrics.fmt_range(min(w), max(w), 's')}"
                         for k, w in sorted(waits.items()))
        tts = m.get("time_to_success_s") or {}
        s = (f"{who}: {statistics.median(attempts):g} attempts per job (median), final states "
             + ", ".join(f"{finals.count(f)} {f}" for f in sorted(set(finals)))
             + (f"; waits {said}" if said else "")
             + (f"; time to success p50 {fmt(tts.get('p50'), 's')}, max {fmt(tts.get('max'), 's')}" if tts else "")
             + ".")
        policy = m.get("policy") or {}
        options = run.config(system, config).get("options") or {}
        checks = [(k, w, p) for k, w in sorted(waits.items())
                  if (p := _planned(policy, k, options)) is not None]
        if checks:
            inside = all(p[0] - WAIT_TOLERANCE_S <= x <= p[1] + WAIT_TOLERANCE_S
                         for _, w, p in checks for x in w)
            early = any(x < p[0] - WAIT_TOLERANCE_S for _, w, p in checks for x in w)
            windows = ", ".join(metrics.fmt_range(p[0], p[1], "s") for _, _, p in checks)
            polled = any(p[1] > p[0] for _, _, p in checks)
            s += (f" Its policy allows {windows} for these waits"
                  + (" (the delay plus the interval of the poller that moves due retries back)" if polled else ""))
            if inside:
                s += ": every measured wait falls inside."
            elif early:
                s += ": some waits were shorter than the configured delay — look at the timeline."
            else:
                extra = max(x - p[1] for _, w, p in checks for x in w)
                s += (f": every wait is at least the configured delay, up to {fmt(extra, 's')} more — the time "
                      "until something moved the due retry back to its queue.")
        out.append(s)
        bad = [f for f in finals if f != "succeeded"]
        if bad:
            where = {"dead": "in the dead set", "failed": "in the failed registry", "retry": "still in the retry set",
                     "lost": "nowhere (lost)"}
            out.append(f"{who}: the job that never succeeds ends {where.get(bad[0], bad[0])} after "
                       f"{max(attempts)} attempts.")
    for c in run.not_ok("retries"):
        finals = [j["final"] for j in (c["metrics"].get("jobs") or [])]
        if finals:
            out.append(f"{name(run, c['system'], c['config'])} without retries: each of its {len(finals)} jobs ran "
                       "once and ended " + ", ".join(f"{finals.count(f)} {f}" for f in sorted(set(finals))) + ".")
    return out + unsupported(run, "retries")


def threads_vs_processes(run: Run) -> list[str]:
    """At each number of jobs in flight where both models ran: the leanest threaded system
    against the leanest process-based one (fork-per-job or a prefork pool), peak PSS of the whole
    worker tree, children included."""
    out = []
    by_flight: dict[int, dict[str, list[tuple[float, str, str]]]] = {}
    for system, config, cells in by_pair(run, run.cells_of("memory")):
        def flight(c: dict[str, Any]) -> int:
            return int(c["params"].get("in_flight") or c["params"].get("concurrency") or 0)

        # a system's model at its most jobs in flight (with one job, threads or not, it is one process)
        kind = "threads" if max(cells, key=flight)["metrics"].get("model") == "threads" else "processes"
        for jobs in sorted({flight(c) for c in cells}):
            mine = [c for c in cells if flight(c) == jobs]
            pss = _median(mine, "peak.pss")
            if pss is not None and jobs:
                by_flight.setdefault(jobs, {}).setdefault(kind, []).append((pss, system, config))
    for count, kinds in sorted(by_flight.items()):
        if "threads" not in kinds or "processes" not in kinds:
            continue
        t, p = min(kinds["threads"]), min(kinds["processes"])
        verdict = (f"processes need {_times(p[0] / t[0])} the memory of threads" if p[0] > t[0]
                   else f"threads need {_times(t[0] / p[0])} the memory of processes")
        out.append(f"Threads against processes at {count} job{'s' if count != 1 else ''} in flight "
                   f"(peak PSS of the whole tree, children included): the leanest threaded system, "
                   f"{name(run, t[1], t[2])}, holds {fmt(t[0], 'bytes')}; the leanest process-based one, "
                   f"{name(run, p[1], p[2])}, {fmt(p[0], 'bytes')}: {verdict}.")
    return out


def distribution(values: list[int]) -> str:
    """Counts over trials as a distribution: "0 in 18 trials, 1 in 2"."""
    counts = {v: values.count(v) for v in sorted(set(values))}
    first = True
    parts = []
    for v, n in counts.items():
        parts.append(f"{v:g} in {n} trial{'s' if n != 1 else ''}" if first else f"{v:g} in {n}")
        first = False
    return ", ".join(parts)


def crash(run: Run) -> list[str]:
    """One sentence per system, config and kill target, over its repeats."""
    out = []
    cells = run.cells_of("crash")
    groups: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for system, config, mine in by_pair(run, cells):
        for c in mine:
            groups.setdefault((system, config, kill_target(c)), []).append(c)
    for (system, config, target), group in groups.items():
        who = name(run, system, config)
        kinds = ("completed", "duplicate", "failed", "pending", "lost")
        # one value per trial (a cell may run several, each kept in per_trial), over every repeat
        trials = [t for c in group for t in (c["metrics"].get("per_trial") or [c["metrics"].get("counts") or {}])]
        per = {k: [int(t.get(k, 0)) for t in trials] for k in kinds}

        def say(k: str, per: dict[str, list[int]] = per) -> str:
            vals = per[k]
            med = statistics.median(vals)
            if min(vals) == max(vals):
                return f"{med:g}"
            return f"{min(vals)}–{max(vals)} (median {med:g}; {distribution(vals)})"

        jobs = sum(per[k][0] for k in kinds) or group[0]["metrics"].get("jobs")
        window = group[0]["metrics"].get("window_s")
        parts = []
        if any(per["lost"]):
            parts.append(f"lost {say('lost')} (in no queue and no registry, never completed: they had left "
                         "Redis when fetched and died with the process)")
        if any(per["duplicate"]):
            parts.append(f"ran {say('duplicate')} twice (redelivered after the kill: at-least-once)")
        if any(per["failed"]):
            parts.append(f"recorded {say('failed')} as failed (the system saw the death and wrote it down)")
        if any(per["pending"]):
            parts.append(f"still held {say('pending')} as pending after the {fmt(window, 's')} window "
                         "(not yet returned to work)")
        if not parts:
            parts.append("every job completed exactly once")
        recs = [float(r) for c in group if isinstance(r := c["metrics"].get("recovery_s"), int | float)]
        risky = [j for c in group for j in (c["metrics"].get("at_risk") or [])]
        if recs:
            tail = (f" A job that was in flight at the kill was run again and completed "
                    f"{fmt(statistics.median(recs), 's')} after it" + (" (median)" if len(recs) > 1 else "")
                    + (f", in {len(recs)} of {len(group)} repeats." if len(recs) < len(group) else "."))
        elif risky and all(j.get("final") == "completed" for j in risky):
            tail = " The jobs in flight at the kill finished anyway, without being run again."
        elif risky:
            tail = (f" No job that was in flight at the kill was run again to completion within the "
                    f"{fmt(window, 's')} window.")
        else:
            tail = ""
        reps = f" ({len(trials)} trials)" if len(trials) > 1 else ""
        out.append(f"Killing {who}'s {target} with {jobs} jobs in play{reps}: {say('completed')} completed; "
                   + "; ".join(parts) + "." + tail)
    return out + unsupported(run, "crash")


def scheduled(run: Run) -> list[str]:
    out = []
    for system, config, cells in by_pair(run, run.cells_of("scheduled")):
        p50 = _median(cells, "error_ms.p50")
        if p50 is None:
            continue
        mx = _median(cells, "error_ms.max")
        who = name(run, system, config)
        interval = _option(run, system, config, "scheduler_interval", "poll_interval")
        mn = _median(cells, "error_ms.min")
        if isinstance(interval, int | float) and interval > 0:
            frac = p50 / (interval * 1e3)
            if mn is not None and mx is not None and mx - mn < SAME_CHECK_FRACTION * interval * 1e3:
                out.append(f"{who}: p50 {fmt(p50, 'ms')} late, and every job within {fmt(mx - mn, 'ms')} of it: "
                           f"the jobs fell due together and all waited for the same check of a poller that runs "
                           f"every {interval:g} s. Where the due time lands in that cycle sets the error, "
                           f"anywhere from 0 to {interval:g} s (half of it on average over many runs).")
            elif POLLER_HALF[0] <= frac <= POLLER_HALF[1]:
                out.append(f"{who}: p50 {fmt(p50, 'ms')} late, max {fmt(mx, 'ms')}, with a poller checking every "
                           f"{interval:g} s: a due job waits for the next check, half an interval on average.")
            else:
                out.append(f"{who}: p50 {fmt(p50, 'ms')} late, max {fmt(mx, 'ms')}, with a {interval:g} s "
                           f"check interval ({frac * 100:.0f} % of it).")
        elif p50 >= SELF_TIMED_MS and mn is not None and mx is not None \
                and mx - mn < SAME_CHECK_FRACTION * p50:
            out.append(f"{who}: p50 {fmt(p50, 'ms')} late, and every job within {fmt(mx - mn, 'ms')} of it: "
                       "the jobs fell due together and started together, each waiting for the same pass of "
                       "whatever moves due jobs to the queue (no interval for it is in this config).")
        else:
            out.append(f"{who}: p50 {fmt(p50, 'ms')} late, max {fmt(mx, 'ms')}"
                       + (" — no polling interval in its config; a start this close to the planned time means "
                          "the worker itself timed the job." if p50 < SELF_TIMED_MS else "."))
    return out + unsupported(run, "scheduled")


def priority(run: Run) -> list[str]:
    out = []
    for system, config, cells in by_pair(run, run.cells_of("priority")):
        share = _median(cells, "share.high")
        if share is None:
            continue
        weights = cells[0]["metrics"].get("weights")
        exp = expected_share(weights)
        who = name(run, system, config)
        if weights == "strict" and share >= STRICT_SHARE:
            s = (f"{who}: strict order — the high queue got {share * 100:.1f} % while both were full; "
                 "default jobs wait until high is empty, so a busy high queue can starve them.")
        elif weights == "strict":
            queues = _option(run, system, config, "queues")
            star = queues == "*" or (isinstance(queues, list | str) and "*" in queues)
            s = (f"{who} reads its queues in a strict order, yet high got only {share * 100:.1f} %: the order "
                 "it used did not put high first"
                 + (" — with '*' the worker sorts queue names alphabetically, and 'default' comes before "
                    "'high'." if star else "."))
        elif weights == "round_robin":
            s = (f"{who} takes turns among its queues (it rotates the order it pops them after every "
                 f"job): high got {share * 100:.1f} % while both were full. Listing a queue first is "
                 "no priority here; a separate worker for the high queue is.")
        elif isinstance(weights, dict) and exp is not None:
            w = " : ".join(f"{k} {v}" for k, v in weights.items())
            close = abs(share - exp) <= PROMISE_TOLERANCE
            s = (f"{who}: weights {w} promise {exp * 100:.0f} % to high; it processed {share * 100:.1f} %"
                 + (" — as promised." if close else f" — {abs(share - exp) * 100:.0f} points off the promise."))
            if len(weights) > 1 and len(set(weights.values())) == 1:
                s += " Equal weights are no priority at all: the queues take turns."
        else:
            s = f"{who}: high got {share * 100:.1f} %."
        out.append(s)
    return out + unsupported(run, "priority")
