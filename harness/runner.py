"""The loop over cells: plan what to run, give each cell a fresh Redis database and fresh
workers, record what it measured, and keep the results file current after every cell.

Plan first, run second: every unknown name (system, scenario, workload, config, profile) is
rejected before anything starts, with the valid names. A system whose adapter cannot be imported
is skipped with the reason; a scenario a system cannot run is an "unsupported" cell with the
honest reason. Repeats are interleaved (repeat 0 of every cell, then repeat 1, ...) so slow drift
on a shared machine spreads over all systems alike. Ctrl-C (or SIGTERM) stops every process of
the current cell, keeps the finished cells and marks the run partial.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import subprocess
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from core import registry, results, rtt_proxy
from core import summary as summaries
from core.contract import MAIN_CONFIG, System
from core.errors import (
    CellTimeout,
    ConfigUnavailable,
    NotSupported,
    SystemUnavailable,
    UnknownName,
    UsageError,
)
from core.probe import ENV_RUN_DIR
from core.redis_server import claim_database, claim_problem, redact, redis_for_suite, with_db
from core.results import Cell, Run
from core.scenario import Scenario
from harness import hdr, metadata
from harness.profiles import Profile, select_configs
from harness.scenarios.common import CellContext, CellSpec, Earlier, default_cells

REPORTS_COMMAND = (sys.executable, "-m", "reports")  # the report's own process (reports/cli.py)

__all__ = ["RunOptions", "Plan", "UsageError", "plan", "execute", "run_cell", "sweep"]


@dataclass
class RunOptions:
    profile: Profile
    systems: list[str] | None = None
    scenarios: list[str] | None = None
    workloads: list[str] | None = None
    configs: list[str] | None = None
    repeats: int | None = None
    out: Path = Path("results")
    redis_url: str | None = None
    argv: list[str] = field(default_factory=list)
    system_classes: dict[str, type[System]] | None = None  # instead of the registry (tests)
    scenario_decls: dict[str, Scenario] | None = None  # instead of the registry (tests)
    build_report: bool = True
    rtt_ms: float | None = None  # --rtt: None = the profile's rtt_ms
    agents: list[str] | None = None  # --agents: hosts whose agents run workers (harness/agent.py)
    control_url: str | None = None  # --control: the agents' control broker

    @property
    def rtt(self) -> float:
        return float(self.rtt_ms if self.rtt_ms is not None else self.profile.rtt_ms)

    @property
    def hosts(self) -> list[str]:
        """--agents, else the profile's agents (none: every worker runs here)."""
        return list(self.agents or self.profile.agents)

    @property
    def control(self) -> str:
        return self.control_url or self.profile.control_url

    @property
    def label(self) -> str:
        custom = any(x is not None for x in (self.systems, self.scenarios, self.workloads,
                                             self.configs, self.repeats))
        return "custom" if custom else self.profile.name


@dataclass
class Plan:
    cells: list[CellSpec]
    skipped: list[Cell]
    systems: dict[str, Any]
    scenarios: dict[str, Scenario]
    repeats: int  # the most any scenario runs
    scenario_repeats: dict[str, int] = field(default_factory=dict)  # a Plan.repeats of its own
    variant_repeats: int | None = None  # at most this many of a config other than "default"
    parallel: int = 1  # cells of one scenario run at once, each on its own database
    smoke: bool = False  # every scenario but an `alone` one runs its cells at once, not only `shares`

    def side_by_side(self, scenario: str) -> bool:
        """Whether the cells of `scenario` run `parallel` at once (Scenario.shares / alone)."""
        declared = self.scenarios[scenario]
        return self.parallel > 1 and not declared.alone and (self.smoke or declared.shares)

    def repeats_of(self, scenario: str, config: str = MAIN_CONFIG) -> int:
        n = self.scenario_repeats.get(scenario, self.repeats)
        if config != MAIN_CONFIG and self.variant_repeats is not None:
            return min(n, self.variant_repeats)
        return n


# ---------------------------------------------------------------------------------------------
# Planning


def _check(kind: str, given: list[str], valid: list[str]) -> None:
    for name in given:
        if name not in valid:
            raise UnknownName(kind, name, valid)


def in_order(chosen: dict[str, Scenario]) -> dict[str, Scenario]:
    """The chosen scenarios in declared order, each after the scenarios it needs."""
    out: dict[str, Scenario] = {}

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in out or name not in chosen:
            return
        if name in path:
            raise UsageError(f"scenarios need each other in a circle: {' -> '.join(path + (name,))}")
        for need in chosen[name].needs:
            visit(need, path + (name,))
        out[name] = chosen[name]

    for name in sorted(chosen, key=lambda n: (chosen[n].order, n)):
        visit(name, ())
    return out


def _check_profile_configs(profile: str, declared: dict[str, Scenario],
                           registered: dict[str, type[System]] | None) -> None:
    """Every config a profile names must be defined by some registered system, or the profile
    is wrong (a misspelt variant would otherwise silently never run). A system that cannot be
    imported here might define it, so its absence makes a name only a note, not an error."""
    defined: set[str] = set()
    unavailable = False
    for name in registered or registry.system_names():
        try:
            cls = registered[name] if registered else registry.system(name)
        except SystemUnavailable:
            unavailable = True
            continue
        defined.update(cls.configs)
    for scenario in declared.values():
        if scenario.baseline:
            continue
        for name in scenario.plan(profile).configs:
            if name != "*" and name not in defined and not unavailable:
                raise UsageError(
                    f"profile {profile!r}, scenario {scenario.name!r}: no system defines config "
                    f"{name!r}; defined configs: {', '.join(sorted(defined))}")


def plan(options: RunOptions) -> Plan:
    from workloads import registry as workloads

    registered = dict(options.system_classes) if options.system_classes else None
    valid_systems = list(registered) if registered else registry.system_names()
    system_list = options.systems or valid_systems
    _check("system", system_list, valid_systems)
    declared = dict(options.scenario_decls) if options.scenario_decls else registry.scenarios()
    scenario_list = options.scenarios or [name for name, s in declared.items()
                                          if s.plan(options.profile.name).in_profile]
    if not options.scenario_decls:
        for name in scenario_list:
            registry.scenario(name)  # a registered scenario that cannot load says why
    _check("scenario", scenario_list, list(declared))
    if options.workloads:
        _check("workload", options.workloads, workloads.names())
    if options.repeats is not None and options.repeats < 1:
        raise UsageError(f"--repeat must be at least 1 (got {options.repeats})")
    if not 0 <= options.rtt <= 1000:
        raise UsageError(f"--rtt must be between 0 and 1000 ms (got {options.rtt:g})")
    if options.rtt:  # the proxy refuses a URL it cannot forward, before anything is written
        rtt_proxy.RttProxy(options.redis_url or os.environ.get("REDIS_URL") or "redis://",
                           options.rtt)
    if options.hosts and not options.control:
        raise UsageError("--agents needs --control URL: the agents' control broker")
    chosen = in_order({name: declared[name] for name in scenario_list})

    classes: dict[str, type[System]] = {}
    skipped: list[Cell] = []
    systems_info: dict[str, Any] = {}
    for name in system_list:
        try:
            classes[name] = registered[name] if registered else registry.system(name)
        except SystemUnavailable as exc:
            systems_info[name] = {"title": "", "supports": [], "configs": {}, "available": False,
                                  "reason": str(exc)}
            for scenario in chosen.values():
                if not scenario.baseline:
                    skipped.append(Cell(id=results.cell_id(scenario.name, name, "-", "-", "", 0),
                                        scenario=scenario.name, system=name, config="-",
                                        workload="-", status="skipped", reason=str(exc)))
    _check_profile_configs(options.profile.name, chosen, registered)

    config_filter = _config_filter(options.configs, classes)
    cells: list[CellSpec] = []
    used: dict[str, set[str]] = {name: set() for name in classes}
    for scenario in chosen.values():
        step = scenario.plan(options.profile.name)
        workloads_ = ([scenario.workload] if scenario.workload
                      else options.workloads or list(step.workloads))
        sizes = dict(step.sizes)
        if scenario.baseline:
            cells.extend(_cells(scenario, None, [], workloads_, sizes))
            continue
        for name, cls in classes.items():
            wanted = config_filter.get(name) if options.configs else step.configs
            configs = select_configs(wanted or [], sorted(cls.configs))
            if not configs:
                continue
            used[name].update(configs)
            cells.extend(_cells(scenario, cls, configs, workloads_, sizes))
    for name, cls in classes.items():
        systems_info[name] = {
            "title": cls.title, "supports": sorted(cls.supports), "available": True, "reason": "",
            "original": cls.original,
            "configs": {c: cls.configs[c].describe() for c in sorted(used[name])},
        }
    repeats = options.repeats or options.profile.repeats
    own = {} if options.repeats else {
        name: r for name, s in chosen.items()
        if (r := s.plan(options.profile.name).repeats) is not None}
    if any(r < 1 for r in own.values()):
        raise UsageError(f"a scenario's plan declares fewer than 1 repeat: {own}")
    return Plan(cells, skipped, systems_info, chosen, max([repeats, *own.values()]),
                {name: own.get(name, repeats) for name in chosen},
                None if options.repeats else options.profile.variant_repeats,
                1 if options.hosts else options.profile.parallel, options.profile.smoke)


def _cells(scenario: Scenario, cls: type[System] | None, configs: list[str],
           workloads: list[str], sizes: dict[str, Any]) -> list[CellSpec]:
    if scenario.cells is None:
        return default_cells(scenario.name, cls, configs, workloads, sizes)
    return list(scenario.cells(cls, configs, workloads, sizes))


def _config_filter(configs: list[str] | None, classes: dict[str, type[System]]) -> dict[str, list[str]]:
    """--configs a,b or system:config: which configs each system runs. Every name must exist
    for at least one of the selected systems."""
    if not configs:
        return {}
    out: dict[str, list[str]] = {name: [] for name in classes}
    for item in configs:
        system, _, config = item.rpartition(":")
        targets = [system] if system else list(classes)
        if system and system not in classes:
            raise UsageError(f"--configs {item!r}: system {system!r} is not selected; selected: "
                             f"{', '.join(classes)}")
        found = [t for t in targets if config in classes[t].configs]
        if not found:
            valid = "; ".join(f"{t}: {', '.join(sorted(classes[t].configs))}" for t in targets)
            raise UsageError(f"unknown config {config!r}; valid configs: {valid}")
        for t in found:
            out[t].append(config)
    return out


# ---------------------------------------------------------------------------------------------
# Running one cell


def sweep(run_path: Path) -> list[int]:
    """Kill any process still running for this run (found by its QUEUEBENCH_RUN_DIR), e.g. a
    forked child orphaned by a crash scenario. Returns the pids it had to kill."""
    prefix = str(run_path.resolve())
    me = os.getpid()
    killed = []
    for proc in psutil.process_iter(["pid", "uids"]):
        try:
            if proc.pid == me or proc.info["uids"] is None or proc.info["uids"].real != os.getuid():
                continue
            value = proc.environ().get(ENV_RUN_DIR, "")
            if value.startswith(prefix):
                proc.kill()
                killed.append(proc.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    psutil.wait_procs([psutil.Process(p) for p in killed if psutil.pid_exists(p)], timeout=5)
    return killed


def run_cell(scenario: Scenario, spec: CellSpec, repeat: int, redis_url: str, run_path: Path,
             earlier: Earlier | None = None, direct_url: str | None = None) -> Cell:
    """Run one cell of `scenario` on a clean database and fresh workers; never raises for a
    failed measurement (the cell says "error" with the reason, its logs are kept)."""
    cid = results.cell_id(spec.scenario, spec.system, spec.config_name, spec.workload, spec.tag,
                          repeat)
    cell = Cell(id=cid, scenario=spec.scenario, system=spec.system, config=spec.config_name,
                workload=spec.workload, params=dict(spec.params), repeat=repeat,
                load_before=round(os.getloadavg()[0], 2))
    cell_dir = (run_path / "work" / cid).resolve()
    if cell_dir.exists():
        shutil.rmtree(cell_dir)
    cell_dir.mkdir(parents=True)
    started = time.monotonic()
    ctx = CellContext(spec, redis_url, cell_dir, repeat, earlier, direct_url=direct_url)
    out: dict[str, Any] = {}
    try:
        claim_database(ctx.direct_url)
        if spec.system_cls is not None and spec.config is not None:
            spec.system_cls.check_config(spec.config)
        if scenario.run is None:
            raise NotSupported(f"scenario {scenario.name!r} declares nothing to run")
        ran = time.monotonic()
        ctx.timings["setup_s"] = ran - started
        try:
            out = scenario.run(ctx)
        finally:
            ctx.timings["run_s"] = time.monotonic() - ran
        cell.status, cell.reason = ctx.status, ctx.reason
    except (NotSupported, ConfigUnavailable) as exc:
        cell.status, cell.reason = "unsupported", str(exc)
    except CellTimeout as exc:
        cell.status, cell.reason = "error", str(exc)
    except Exception as exc:
        cell.status, cell.reason = "error", f"{type(exc).__name__}: {exc}"
        (cell_dir / "error.txt").write_text(traceback.format_exc())
    finally:
        closing = time.monotonic()
        try:
            ctx.close()
        finally:
            ctx.timings["close_s"] = time.monotonic() - closing
            sweep(cell_dir)
            ctx.timings["sweep_s"] = time.monotonic() - closing - ctx.timings["close_s"]
    records = out.pop("records", None)
    if records is None:
        records = ctx.tail.measured()
    if cell.status != "unsupported" or out:
        cell.metrics = out
    cell.params = dict(ctx.params)
    if spec.config is not None:
        cell.params["system_config"] = spec.config.describe()  # exactly what ran (scaled)
    if records:
        cell.raw = results.write_raw(run_path, cid, records)
    if ctx.hdr is not None and ctx.hdr.get_total_count():
        hdr.save(ctx.hdr, results.raw_path(run_path, cid, ".latency.hdr"))
    _tidy(cell_dir, keep=cell.status == "error")
    cell.duration_s = round(time.monotonic() - started, 3)
    cell.timings = _timings(ctx.timings, cell.duration_s)
    return cell


def _timings(spent: dict[str, float], total: float) -> dict[str, float]:
    """Where the cell's wall time went: setup (database, config check, the workload), start (workers up and
    ready), warm (warm-up jobs), measure (the rest of the scenario's run), stop (workers
    stopped, in the run and after it: close and the sweep), other (records, files)."""
    start, warm = spent.get("start_s", 0.0), spent.get("warm_s", 0.0)
    stop_in_run, prepare = spent.get("stop_s", 0.0), spent.get("prepare_s", 0.0)
    measure = spent.get("run_s", 0.0) - start - warm - stop_in_run - prepare
    stop = stop_in_run + spent.get("close_s", 0.0) + spent.get("sweep_s", 0.0)
    out = {"setup_s": spent.get("setup_s", 0.0) + prepare, "start_s": start, "warm_s": warm,
           "measure_s": max(0.0, measure), "stop_s": stop}
    out["other_s"] = max(0.0, total - sum(out.values()))
    return {k: round(v, 3) for k, v in out.items()}


def _tidy(cell_dir: Path, keep: bool) -> None:
    """Keep a cell's worker logs (and everything, if it failed); drop stores and records."""
    if keep:
        return
    for child in cell_dir.iterdir():
        if child.name != "logs":
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
    with contextlib.suppress(OSError):
        cell_dir.rmdir()  # only if no logs were written


# ---------------------------------------------------------------------------------------------
# The run


@contextlib.contextmanager
def _interrupts() -> Iterator[None]:
    """SIGTERM and SIGHUP stop the run the way Ctrl-C does."""
    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    old = {s: signal.signal(s, handler) for s in (signal.SIGTERM, signal.SIGHUP)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


Progress = Callable[[str, int, int, Cell | None], None]


def execute(options: RunOptions, progress: Progress | None = None) -> tuple[Run, Path]:
    """Plan, then run every cell; returns the run and its directory (results.json inside)."""
    the_plan = plan(options)
    run = Run(run_id=results.new_run_id(), profile=options.label)
    run.systems = the_plan.systems
    run.scenarios = {name: s.describe() for name, s in the_plan.scenarios.items()}
    run.cells.extend(the_plan.skipped)
    env = dict(os.environ)
    if options.redis_url:
        env["REDIS_URL"] = options.redis_url
    encoder = results.Encoder()  # each cell encoded once, though the file is rewritten after each
    with _interrupts(), redis_for_suite(env) as url:
        _check_redis(url)
        run_path = _new_run_path(run, options.out)
        try:
            run.metadata = metadata.collect(url, not env.get("REDIS_URL"), options.argv or None)
            run.metadata["redis_url"] = redact(url)
            run.metadata["repeats"] = the_plan.repeats
            if the_plan.variant_repeats is not None:
                run.metadata["variant_repeats"] = the_plan.variant_repeats
            run.metadata["parallel"] = the_plan.parallel
            run.metadata["side_by_side"] = [name for name in the_plan.scenarios
                                            if the_plan.side_by_side(name)]
            with rtt_proxy.maybe_proxy(url, options.rtt) as proxy:
                run.metadata["rtt_ms"] = options.rtt
                if proxy is not None:  # every process of every cell talks through it
                    run.metadata["rtt_added_ms"] = round(proxy.added_ms(), 3)
                results.write(run, run_path, encoder)
                with _agents(options, run):
                    _run_cells(the_plan, run, run_path, proxy.url if proxy else url, progress,
                               direct_url=url, encoder=encoder)
        except KeyboardInterrupt:
            run.partial = True
        finally:
            old = signal.signal(signal.SIGINT, signal.SIG_IGN)  # let the clean-up finish
            try:
                sweep(run_path)
                if run.partial:  # a worker spawned just as Ctrl-C came may only now have exec'd
                    time.sleep(0.3)
                    sweep(run_path)
                run.finished = results.now_iso()
                run.summary = _summary(the_plan, run, encoder)
                results.write(run, run_path, encoder)
            finally:
                signal.signal(signal.SIGINT, old)
    return run, run_path


@contextlib.contextmanager
def _agents(options: RunOptions, run: Run) -> Iterator[None]:
    """With --agents: reach them, estimate their clocks, record both in the run's metadata."""
    if not options.hosts:
        yield
        return
    from harness import remote

    agents = remote.Agents(options.control, options.hosts)
    try:
        agents.wait_ready(timeout=60)
        agents.estimate_clocks()
        run.metadata["agents"] = agents.describe()
        remote.activate(agents)
        yield
    finally:
        remote.activate(None)
        agents.close()


def _summary(the_plan: Plan, run: Run, encoder: results.Encoder | None = None
             ) -> list[dict[str, Any]]:
    cells = encoder.as_json(run.cells) if encoder else [c.to_json() for c in run.cells]
    return summaries.build(cells, the_plan.scenarios)


def _check_redis(url: str) -> None:
    """Fail before anything starts if Redis is unreachable or the database is not ours."""
    problem = claim_problem(url)
    if problem:
        raise UsageError(problem)


def _new_run_path(run: Run, out: Path) -> Path:
    path = results.run_dir(out, run.run_id)
    while path.exists():  # two runs in one second
        time.sleep(1)
        run.run_id = results.new_run_id()
        path = results.run_dir(out, run.run_id)
    path.mkdir(parents=True)
    return path


def _run_cells(the_plan: Plan, run: Run, run_path: Path, url: str,
               progress: Progress | None, direct_url: str | None = None,
               encoder: results.Encoder | None = None) -> None:
    total = sum(the_plan.repeats_of(spec.scenario, spec.config_name) for spec in the_plan.cells)
    done = 0

    def earlier(scenario: str) -> list[dict[str, Any]]:
        return [c.to_json() for c in run.cells if c.scenario == scenario]

    refused: dict[tuple[str, ...], Cell] = {}  # cells whose first repeat said "unsupported"

    def measure(spec: CellSpec, repeat: int, db: int = 0) -> Cell:
        key = _spec_key(spec)
        if key in refused:
            return _refused_again(spec, refused[key], repeat)
        return run_cell(the_plan.scenarios[spec.scenario], spec, repeat, with_db(url, db),
                        run_path, earlier, direct_url=with_db(direct_url or url, db))

    def record(spec: CellSpec, cell: Cell) -> None:
        nonlocal done
        if cell.status == "unsupported" and not cell.metrics:
            refused.setdefault(_spec_key(spec), cell)
        run.cells.append(cell)
        done += 1
        run.summary = _summary(the_plan, run, encoder)
        results.write(run, run_path, encoder)
        if progress:
            progress(cell.id, done, total, cell)

    for repeat in range(the_plan.repeats):
        todo = [spec for spec in the_plan.cells
                if repeat < the_plan.repeats_of(spec.scenario, spec.config_name)]
        for batch in _by_scenario(todo):
            if len(batch) > 1 and the_plan.side_by_side(batch[0].scenario):
                _run_parallel(batch, repeat, the_plan.parallel, measure, record, progress,
                              done, total)
                continue
            for spec in batch:
                if progress:
                    progress(_label(spec, repeat), done, total, None)
                record(spec, measure(spec, repeat))


def _label(spec: CellSpec, repeat: int) -> str:
    label = f"{spec.scenario} {spec.system} {spec.config_name} {spec.workload} {spec.tag}"
    return f"{label} r{repeat}".replace("  ", " ")


def _by_scenario(specs: list[CellSpec]) -> list[list[CellSpec]]:
    """Consecutive cells of one scenario: a batch needs only earlier scenarios' cells."""
    batches: list[list[CellSpec]] = []
    for spec in specs:
        if batches and batches[-1][0].scenario == spec.scenario:
            batches[-1].append(spec)
        else:
            batches.append([spec])
    return batches


def _run_parallel(batch: list[CellSpec], repeat: int, parallel: int,
                  measure: Callable[[CellSpec, int, int], Cell],
                  record: Callable[[CellSpec, Cell], None], progress: Progress | None,
                  done: int, total: int) -> None:
    """Up to `parallel` cells of one scenario at once, each on a database of its own (the URL's
    own number + its slot): a scenario whose figures a neighbour's CPU use does not move
    (Scenario.shares), or any in a smoke test whose figures are not compared. Records are kept
    in the order the cells end; Ctrl-C stops waiting at once (the run's sweep stops workers)."""
    slots: queue.SimpleQueue[int] = queue.SimpleQueue()
    for slot in range(parallel):
        slots.put(slot)

    def one(spec: CellSpec) -> Cell:
        slot = slots.get()
        try:
            return measure(spec, repeat, slot)
        finally:
            slots.put(slot)

    if progress:
        progress(f"{batch[0].scenario}: {len(batch)} cells, {parallel} at once r{repeat}",
                 done, total, None)
    pool = ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="cell")
    try:
        futures = {pool.submit(one, spec): spec for spec in batch}
        for future in as_completed(futures):
            record(futures[future], future.result())
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _spec_key(spec: CellSpec) -> tuple[str, ...]:
    return (spec.scenario, spec.system, spec.config_name, spec.workload, spec.tag)


def _refused_again(spec: CellSpec, first: Cell, repeat: int) -> Cell:
    """A later repeat of a cell whose first repeat was refused outright (NotSupported or an
    unavailable config, no figures): recorded with the same reason, without starting workers
    again. A refusal is a property of the system and config, not of a repeat; a scenario that
    says "unsupported" and still reports figures (retries without retries) runs every repeat."""
    cid = results.cell_id(spec.scenario, spec.system, spec.config_name, spec.workload, spec.tag,
                          repeat)
    return Cell(id=cid, scenario=first.scenario, system=first.system,
                config=first.config, workload=first.workload, params=dict(first.params),
                repeat=repeat, status="unsupported", reason=first.reason,
                load_before=round(os.getloadavg()[0], 2))


def build_report(run_path: Path, out_root: Path) -> tuple[bool, str]:
    """Build the run's report under out_root, in its own process (`python -m reports`: the
    harness never imports reports); a failure is a message, never lost results."""
    done = subprocess.run([*REPORTS_COMMAND, "build", str(run_path), "--out", str(out_root)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        why = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return False, (f"the report failed ({why}); results are in {run_path}; retry with "
                       f"`queuebench report {run_path}`")
    printed = done.stdout.strip().splitlines()
    page = printed[-1].removeprefix("report: ") if printed else str(out_root)
    return True, f"report: {page} (and {out_root / 'latest'})"
