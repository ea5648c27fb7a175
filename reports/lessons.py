"""The five lesson sections (thread_safety, pool_size, retry_side_effects, visibility_timeout,
prefetch): a table of every system's "before" and "after the fix" figures (median and range over
the repeats) and sentences written from those numbers only.

A claim such as "in every repeat" is made only when every repeat shows it; a fix is said to
remove a failure only when no repeat of the "after" side shows any. Each function is a Section
hook the lesson scenario names (core.scenario.Section); each returns plain text.
"""

from __future__ import annotations

import statistics
from typing import Any

from reports import metrics
from reports.figures import pairs
from reports.run import Run, dig
from reports.sections import Table
from reports.teach import unsupported

fmt = metrics.fmt
SIDE_ORDER = ("before", "after", "same")
SIDE_WORDS = {"before": "before", "after": "after the fix", "same": "same jobs"}


def name(run: Run, system: str, config: str) -> str:
    """A system with the config it ran the lesson in ("Celery (fair)"), "default" left unsaid."""
    return run.title(system) if config == "default" else f"{run.title(system)} ({config})"


def _times(value: float | None) -> str:
    if value is None:
        return "—"
    return {1: "once", 2: "twice"}.get(int(value), f"{value:g} times") if value == int(value) \
        else f"{value:g} times"


def _sides(run: Run, scenario: str) -> list[tuple[str, str, dict[str, list[dict[str, Any]]]]]:
    """(system, config, {side: its ok cells}) in the report's system order."""
    cells = run.cells_of(scenario)
    out = []
    for system, config in pairs(run, cells):
        sides: dict[str, list[dict[str, Any]]] = {}
        for c in cells:
            if (c["system"], c["config"]) == (system, config):
                sides.setdefault(str(c["params"].get("side", "")), []).append(c)
        out.append((system, config, sides))
    return out


def _side_cells(run: Run, scenario: str) -> list[tuple[str, str, list[dict[str, Any]]]]:
    """(who, side, its cells) for every system and config: before, then after, then same."""
    return [(name(run, system, config), side, sides[side])
            for system, config, sides in _sides(run, scenario)
            for side in ("before", "after", "same") if sides.get(side)]


def _values(cells: list[dict[str, Any]], path: str) -> list[float]:
    vals = [dig(c["metrics"], path) for c in cells]
    return [float(v) for v in vals if isinstance(v, int | float) and not isinstance(v, bool)]


def _med(cells: list[dict[str, Any]], path: str) -> float | None:
    vals = _values(cells, path)
    return statistics.median(vals) if vals else None


def _spread(cells: list[dict[str, Any]], path: str, unit: str) -> str:
    """"3 (2–4 over 3 repeats)", or the one value of a single repeat."""
    vals = _values(cells, path)
    if not vals:
        return "—"
    med = fmt(statistics.median(vals), unit)
    if len(vals) == 1:
        return med
    if min(vals) == max(vals):
        return f"{med} (all {len(vals)} repeats)"
    return f"{med} ({metrics.fmt_range(min(vals), max(vals), unit)} over {len(vals)} repeats)"


def _count(value: float | None) -> str:
    return "—" if value is None else f"{value:g}"


def _every(cells: list[dict[str, Any]], path: str) -> str:
    """How often a failure figure was above zero: "in every repeat", "in 1 of 3 repeats"."""
    vals = _values(cells, path)
    hit = sum(1 for v in vals if v > 0)
    if not vals:
        return ""
    if hit == len(vals):
        return "in every repeat" if len(vals) > 1 else "in its one repeat"
    return f"in {hit} of {len(vals)} repeats"


def _table(run: Run, scenario: str, caption: str,
           columns: list[tuple[str, str, str]]) -> Table | None:
    """One row per system, config and side; columns: (header, metrics path, unit)."""
    rows = []
    for system, config, sides in _sides(run, scenario):
        for side in sorted(sides, key=lambda s: SIDE_ORDER.index(s) if s in SIDE_ORDER else 9):
            cells = sides[side]
            rows.append([name(run, system, config), SIDE_WORDS.get(side, side), len(cells),
                         *(_spread(cells, path, unit) for _, path, unit in columns)])
    if not rows:
        return None
    return Table(scenario, caption, ["system", "side", "repeats", *(h for h, _, _ in columns)],
                 rows, set(range(3, 4 + len(columns))))


# -- thread safety -----------------------------------------------------------------------------


def thread_safety_table(run: Run) -> Table | None:
    return _table(run, "thread_safety", "Updates lost by the ledger job, without and with a lock",
                  [("updates lost", "lost_updates", ""), ("jobs", "jobs", ""),
                   ("processes used", "processes_used", "")])


def thread_safety(run: Run) -> list[str]:
    out, losing = [], []
    for system, config, sides in _sides(run, "thread_safety"):
        before, after = sides.get("before", []), sides.get("after", [])
        if not before:
            continue
        who = name(run, system, config)
        c = before[0]["metrics"]
        lost, jobs = _med(before, "lost_updates"), _med(before, "jobs")
        fixed = _values(after, "lost_updates")
        fix_said = ("with the lock none was lost" if fixed and max(fixed) == 0 else
                    f"with the lock {_spread(after, 'lost_updates', '')} were still lost"
                    if fixed else "the lock was not measured")
        if lost:
            losing.append(who)
            out.append(f"{who} ({c.get('concurrency')} {c.get('model')} sharing one balance): "
                       f"without a lock {_count(lost)} of {_count(jobs)} updates were lost "
                       f"(median) — {_every(before, 'lost_updates')}: threads that overlap read the "
                       f"same balance and each writes it plus one; {fix_said}.")
        else:
            out.append(f"{who} runs one job at a time in each of its processes "
                       f"({_count(_med(before, 'processes_used'))} used): no update lost without "
                       f"the lock either — no two running jobs share the balance; {fix_said}.")
    if losing:
        out.append("Updates are lost only where jobs run as threads of one process ("
                   + ", ".join(losing) + "); the module global is the shared mutable data the "
                   "warning is about. A lock (or per-job state, or passing ids and reading the "
                   "value from a store that increments atomically) is the fix.")
    return out + unsupported(run, "thread_safety")


# -- pool size ---------------------------------------------------------------------------------


def pool_size_table(run: Run) -> Table | None:
    return _table(run, "pool_size", "Waiting for a pooled connection: pool of 2 vs pool sized to "
                  "the threads", [("pool", "pool", ""), ("jobs without a connection", "timeouts", ""),
                                  ("wait p50", "wait_ms.p50", "ms"), ("wait max", "wait_ms.max", "ms"),
                                  ("waited, all jobs", "wait_ms.total", "ms")])


def pool_size(run: Run) -> list[str]:
    out = []
    for system, config, sides in _sides(run, "pool_size"):
        before, after = sides.get("before", []), sides.get("after", [])
        if not before or not after:
            continue
        who = name(run, system, config)
        m, opts = before[0]["metrics"], before[0]["params"]
        timeouts = _med(before, "timeouts")
        said = (f"{_count(timeouts)} of {_count(_med(before, 'jobs'))} jobs got no connection "
                f"within {fmt(opts.get('timeout_s'), 's')} ({_every(before, 'timeouts')})"
                if timeouts else "every job got a connection")
        fixed_timeouts = _values(after, "timeouts")
        out.append(
            f"{who}: with a pool of {m.get('pool')} for {m.get('concurrency')} threads, {said}; "
            f"the median wait for a connection was {fmt(_med(before, 'wait_ms.p50'), 'ms')} "
            f"(max {fmt(_med(before, 'wait_ms.max'), 'ms')}). With a pool of "
            f"{after[0]['metrics'].get('pool')}: "
            + ("no job went without a connection" if fixed_timeouts and max(fixed_timeouts) == 0
               else f"{_spread(after, 'timeouts', '')} went without one")
            + f", median wait {fmt(_med(after, 'wait_ms.p50'), 'ms')} (the time to take a "
              "connection, the first use of each included).")
    if out:
        out.append("A pool smaller than the number of threads turns the threads beyond it into "
                   "a queue in front of the pool: each waits for a connection to come back, and "
                   "one that waits longer than the pool's timeout fails the job.")
    return out + unsupported(run, "pool_size")


# -- side effects of retries -------------------------------------------------------------------


def retry_side_effects_table(run: Run) -> Table | None:
    return _table(run, "retry_side_effects", "Mails sent by a job that fails after sending, "
                  "without and with an idempotency key",
                  [("duplicate mails", "duplicates", ""), ("mails per job", "mails_per_job", ""),
                   ("attempts", "attempts", ""), ("jobs succeeded", "succeeded", "")])


def retry_side_effects(run: Run) -> list[str]:
    out = []
    for system, config, sides in _sides(run, "retry_side_effects"):
        before, after = sides.get("before", []), sides.get("after", [])
        if not before:
            continue
        who = name(run, system, config)
        policy = before[0]["metrics"].get("policy") or {}
        fixed = _values(after, "duplicates")
        out.append(
            f"{who}: each job failed after sending {policy.get('fail_first')} times and was "
            f"retried by {run.title(system)} until it succeeded: "
            f"{_count(_med(before, 'mails_per_job'))} mails per job, "
            f"{_count(_med(before, 'duplicates'))} duplicates (median, "
            f"{_every(before, 'duplicates')}); with the key checked first, "
            + ("no duplicate." if fixed and max(fixed) == 0
               else f"{_spread(after, 'duplicates', '')} duplicates." if fixed
               else "not measured."))
    if out:
        out.append("Every system with retries runs the whole job again: whatever it did before "
                   "failing is done again, so a side effect must be guarded by a key the job "
                   "checks before doing it (or done last, after everything that can fail).")
    return out + unsupported(run, "retry_side_effects")


# -- visibility timeout ------------------------------------------------------------------------


def visibility_timeout_table(run: Run) -> Table | None:
    return _table(run, "visibility_timeout", "Runs of a countdown job and of a long job",
                  [("visibility timeout", "visibility_timeout_s", "s"),
                   ("countdown", "countdown_s", "s"), ("long job", "long_s", "s"),
                   ("runs, countdown job", "eta_runs", ""), ("runs, long job", "long_runs", ""),
                   ("duplicate runs", "duplicates", "")])


def visibility_timeout(run: Run) -> list[str]:
    out = []
    for who, _side, cells in _side_cells(run, "visibility_timeout"):
        m = cells[0]["metrics"]
        vt = m.get("visibility_timeout_s")
        setting = (f"visibility_timeout {fmt(vt, 's')}" if vt is not None
                   else "no visibility timeout")
        dup = _med(cells, "duplicates")
        out.append(
            f"{who} ({setting}): the job with a {fmt(m.get('countdown_s'), 's')} countdown ran "
            f"{_times(_med(cells, 'eta_runs'))}, the {fmt(m.get('long_s'), 's')} job "
            f"{_times(_med(cells, 'long_runs'))} (median)"
            + (f" — duplicates {_every(cells, 'duplicates')}." if dup else "; no duplicate."))
    if out:
        out.append("On Redis, Celery keeps a message a worker holds (a countdown waiting in the "
                   "worker, an acks_late job running) in the transport's unacked hash; a sweep "
                   "puts back on the queue every message held longer than visibility_timeout, and "
                   "a worker runs it again. The fix is a visibility timeout longer than the "
                   "longest countdown and the longest job. The Sidekiq clone's reliable fetch has "
                   "no timeout: a delayed job waits in the schedule set, not in a worker, and a "
                   "running job's copy in the process's private list is given back only when the "
                   "process is found dead.")
        systems = run.system_names()
        if any("stream" in s for s in systems):
            out.append("Redis Streams makes the same trade-off under another name: an entry read "
                       "but not acknowledged waits in the pending entries list, and XAUTOCLAIM "
                       "gives it to another consumer once it has been idle longer than the claim "
                       "timeout (its visibility timeout here), so a job longer than that timeout "
                       "runs twice; a countdown waits in the scheduler, not in a consumer.")
        else:
            out.append("No Streams-based system is in this run, so a Streams claim timeout "
                       "(XAUTOCLAIM's min-idle-time, the same trade-off) is not measured.")
    return out + unsupported(run, "visibility_timeout")


# -- prefetch ----------------------------------------------------------------------------------


def prefetch_table(run: Run) -> Table | None:
    return _table(run, "prefetch", "Fast jobs behind a slow one on two worker processes",
                  [("prefetch multiplier", "prefetch_multiplier", ""),
                   ("held behind the slow job", "held_behind_slow", ""),
                   ("fast wait p50", "fast_wait_ms.p50", "ms"),
                   ("fast wait max", "fast_wait_ms.max", "ms")])


def prefetch(run: Run) -> list[str]:
    out = []
    for who, side, cells in _side_cells(run, "prefetch"):
        m = cells[0]["metrics"]
        held = _med(cells, "held_behind_slow")
        how = (f"prefetch multiplier {m['prefetch_multiplier']}"
               if m.get("prefetch_multiplier") is not None else "a fetch per free worker")
        if held:
            out.append(
                f"{who} ({SIDE_WORDS[side]}, {how}): {_count(held)} of "
                f"{_count(_med(cells, 'fast_jobs'))} fast jobs were held behind the "
                f"{fmt(m.get('slow_ms'), 'ms')} job ({_every(cells, 'held_behind_slow')}) and "
                f"waited {fmt(_med(cells, 'held_wait_ms.p50'), 'ms')} (median of those) while "
                f"the other process was free; the longest fast wait was "
                f"{fmt(_med(cells, 'fast_wait_ms.max'), 'ms')}.")
        else:
            out.append(
                f"{who} ({SIDE_WORDS[side]}, {how}): no fast job was held behind the slow one; "
                f"the longest fast wait was {fmt(_med(cells, 'fast_wait_ms.max'), 'ms')}.")
    if out:
        out.append("A worker that prefetches takes jobs it cannot start yet; behind a slow job "
                   "they wait for it even though another process is idle. With prefetch "
                   "multiplier 1 and acks_late the running job counts against the prefetch, so "
                   "the busy worker takes nothing more; a worker that fetches only when a thread "
                   "or process is free never holds a job it cannot start.")
    return out + unsupported(run, "prefetch")
