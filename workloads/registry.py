"""Find a workload by name: the built-ins below plus the entry-point group
`queuebench.workloads`, so another package can add one without touching this repository:

    [project.entry-points."queuebench.workloads"]
    resize = "mypkg.resize:Resize"      # a subclass of workloads.base.Workload

Inside a worker, for_worker(name) builds the workload once per process from the run directory
($QUEUEBENCH_RUN_DIR) and the options the harness saved there with prepare().
"""

from __future__ import annotations

import importlib
import json
import os
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from core import probe
from core.errors import UnknownName
from core.probe import ENV_RUN_DIR
from workloads.base import Workload, WorkloadContext

ENTRY_POINT_GROUP = "queuebench.workloads"

BUILTIN: dict[str, str] = {
    "highlight": "workloads.highlight:Highlight",
    "remote_highlight": "workloads.remote_highlight:RemoteHighlight",
    "noop": "workloads.noop:Noop",
    "sleep": "workloads.sleep:Sleep",
    "flaky": "workloads.flaky:Flaky",
    "hold": "workloads.hold:Hold",
    "ledger": "workloads.ledger:Ledger",
    "pooled": "workloads.pooled:Pooled",
    "mailer": "workloads.mailer:Mailer",
}

_cache: dict[tuple[str, str], Workload] = {}


def _entry_points() -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def names() -> list[str]:
    return sorted(set(BUILTIN) | set(_entry_points()))


def get(name: str) -> type[Workload]:
    if name in BUILTIN:
        module, _, attr = BUILTIN[name].partition(":")
        cls = getattr(importlib.import_module(module), attr)
    else:
        eps = _entry_points()
        if name not in eps:
            raise UnknownName("workload", name, names())
        cls = eps[name].load()
    if not (isinstance(cls, type) and issubclass(cls, Workload)):
        raise TypeError(f"workload {name!r} ({cls!r}) is not a subclass of workloads.base.Workload")
    return cls


def create(name: str, run_dir: Path | str, options: dict[str, Any] | None = None) -> Workload:
    return get(name)(WorkloadContext(Path(run_dir), dict(options or {})))


def _options_file(run_dir: Path, name: str) -> Path:
    return run_dir / "workloads" / f"{name}.json"


def prepare(name: str, run_dir: Path | str, options: dict[str, Any] | None = None) -> Workload:
    """Build a workload in the harness, save its options for the workers, and run setup()."""
    run_dir = Path(run_dir)
    workload = create(name, run_dir, options)
    path = _options_file(run_dir, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(dict(options or {})))
    workload.setup()
    return workload


def for_worker(name: str) -> Workload:
    """The workload inside a worker, built once per run directory. A forked child reuses its
    parent's object: workloads are fork-safe (they open their connections per process and thread)."""
    run_dir = os.environ.get(ENV_RUN_DIR)
    if not run_dir:
        raise RuntimeError(f"{ENV_RUN_DIR} is not set: the worker does not know its run directory")
    key = (run_dir, name)
    workload = _cache.get(key)
    if workload is None:
        path = _options_file(Path(run_dir), name)
        options = json.loads(path.read_text()) if path.exists() else {}
        workload = _cache[key] = create(name, run_dir, options)
    return workload


def run_job(system: str, job_id: str, planned_ns: int, workload: str, args: list[Any],
            attempt: int | None = None) -> None:
    """A system's job entry point: run one attempt of `workload` with `args` in this worker,
    recorded by the probe (core.probe.run). Re-raises the workload's exception for the system's
    own retry policy."""
    probe.run(system, job_id, planned_ns, lambda: for_worker(workload).perform(*args), attempt)


def describe() -> list[dict[str, str]]:
    rows = []
    for name in names():
        try:
            cls = get(name)
            rows.append({"name": name, "kind": cls.kind, "description": cls.description})
        except Exception as exc:  # a broken plug-in must not hide the others
            rows.append({"name": name, "kind": "?", "description": f"cannot load: {exc}"})
    return rows
