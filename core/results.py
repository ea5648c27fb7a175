"""The results format, shared by the harness that writes it and the report that reads it:

    results/<run-id>/results.json            metadata, systems and configs, the scenarios'
                                             declarations, cells, summary
    results/<run-id>/raw/<cell-id>.jsonl     the probe records of one cell
    results/<run-id>/raw/<cell-id>.latency.hdr   its latency histogram (compressed HDR), optional

results.json is rewritten atomically after every cell, so an interrupted run keeps what it
finished ("partial": true). read() checks the schema version and brings an older file up to
this one through MIGRATIONS, one step per version (asv's api_version idea): a reader always
sees the current structure.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import ResultsError

SCHEMA = 2
STATUSES = ("ok", "unsupported", "error", "skipped")
FLOOR = "redis-py"  # the system name of the baseline cells (bare redis-py on the same Redis)
FLOOR_CONFIG = "bare"
RESULTS_FILE = "results.json"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def new_run_id() -> str:
    return time.strftime("%Y%m%d-%H%M%S", time.gmtime())


def cell_id(scenario: str, system: str, config: str, workload: str, tag: str, repeat: int) -> str:
    parts = [scenario, system, config, workload] + ([tag] if tag else []) + [f"r{repeat}"]
    return "-".join(p.replace("/", "_").replace(" ", "_") for p in parts)


@dataclass
class Cell:
    """One measurement: system x scenario x workload x config x params x repeat."""

    id: str
    scenario: str
    system: str
    config: str
    workload: str
    params: dict[str, Any] = field(default_factory=dict)
    repeat: int = 0
    status: str = "ok"
    reason: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    raw: str | None = None
    duration_s: float = 0.0
    load_before: float | None = None  # the host's 1-minute load average as the cell began
    timings: dict[str, float] = field(default_factory=dict)  # where its wall time went (s)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Run:
    run_id: str
    profile: str
    started: str = field(default_factory=now_iso)
    finished: str | None = None
    partial: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    systems: dict[str, Any] = field(default_factory=dict)
    scenarios: dict[str, Any] = field(default_factory=dict)  # name -> Scenario.describe()
    cells: list[Cell] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {**self.head(), "cells": [c.to_json() for c in self.cells],
                "summary": self.summary}

    def head(self) -> dict[str, Any]:
        """to_json's keys before "cells", in order."""
        return {
            "schema": SCHEMA,
            "run_id": self.run_id,
            "profile": self.profile,
            "partial": self.partial,
            "started": self.started,
            "finished": self.finished,
            "metadata": self.metadata,
            "systems": self.systems,
            "scenarios": self.scenarios,
        }


def run_dir(out: Path | str, run_id: str) -> Path:
    return Path(out) / run_id


def raw_path(directory: Path, cell: str, suffix: str = ".jsonl") -> Path:
    return directory / "raw" / f"{cell}{suffix}"


class Encoder:
    """Encodes results.json as json.dumps(run.to_json(), indent=1, default=str) does, byte for
    byte, remembering what it encoded: a run rewrites the file after every cell, and encoding
    every earlier cell (and summary row) again each time made the writes grow with the square of
    the cells. A cell is encoded once (the caller no longer changes a cell it wrote); any other
    part is looked up by its compact encoding (the C encoder's, cheap), since the summary is
    rebuilt after every cell and most of it stays the same."""

    def __init__(self) -> None:
        self.cells: dict[int, tuple[Cell, str]] = {}
        self.dicts: dict[int, tuple[Cell, dict[str, Any]]] = {}
        self.known: dict[str, str] = {}

    def as_json(self, cells: list[Cell]) -> list[dict[str, Any]]:
        """[c.to_json() for c in cells], each cell converted once (read, never change them)."""
        out = []
        for cell in cells:
            hit = self.dicts.get(id(cell))
            if hit is None or hit[0] is not cell:
                hit = self.dicts[id(cell)] = (cell, cell.to_json())
            out.append(hit[1])
        return out

    def encode(self, run: Run) -> str:
        cells = []
        for cell in run.cells:
            hit = self.cells.get(id(cell))
            if hit is None or hit[0] is not cell:
                hit = self.cells[id(cell)] = (cell, _indented(self.as_json([cell])[0], 2))
            cells.append(hit[1])
        parts = {key: self._value(value) for key, value in run.head().items()}
        parts["cells"] = _list(cells)
        parts["summary"] = _list([self._value(row, 2) for row in run.summary])
        return "{\n " + ",\n ".join(f"{json.dumps(k)}: {v}" for k, v in parts.items()) + "\n}"

    def _value(self, value: Any, depth: int = 1) -> str:
        key = json.dumps(value, default=str)
        if key not in self.known:
            self.known[key] = _indented(value, depth)
        return self.known[key]


def _indented(value: Any, depth: int) -> str:
    """`value` as json.dumps(..., indent=1) writes it `depth` levels down."""
    return json.dumps(value, indent=1, default=str).replace("\n", "\n" + " " * depth)


def _list(items: list[str]) -> str:
    """A list of items already encoded at depth 2, as the value of a top-level key."""
    return "[\n  " + ",\n  ".join(items) + "\n ]" if items else "[]"


def encode(run: Run, encoder: Encoder | None = None) -> str:
    """results.json's text (see Encoder)."""
    if encoder is None:
        return json.dumps(run.to_json(), indent=1, default=str)
    return encoder.encode(run)


def write(run: Run, directory: Path, encoder: Encoder | None = None) -> Path:
    """Write results.json atomically (a reader never sees half a file); an Encoder kept across
    the writes of one run makes each write cost about what the newest cell adds."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / RESULTS_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(encode(run, encoder))
    os.replace(tmp, path)
    return path


def write_raw(directory: Path, cell: str, records: list[dict[str, Any]]) -> str:
    """The probe records of one cell, one JSON line each; returns the path relative to the run."""
    path = raw_path(directory, cell)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as fh:
        for rec in records:
            fh.write(json.dumps(rec, separators=(",", ":")) + "\n")
    return str(path.relative_to(directory))


def results_file(path: Path | str) -> Path:
    """The results.json of a run directory (or the file itself); ResultsError if there is none."""
    path = Path(path)
    if path.is_dir():
        path = path / RESULTS_FILE
    if not path.is_file():
        raise ResultsError(f"no results file at {path}: pass a run directory "
                           "(results/<run-id>/) that holds results.json, or run `queuebench run`")
    return path


def read(path: Path | str) -> dict[str, Any]:
    """results.json of a run directory (or the file itself), migrated to the current schema."""
    file = results_file(path)
    try:
        data = json.loads(file.read_text())
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{file} is not valid JSON ({exc.msg} at line {exc.lineno}); "
                           "was the run interrupted while writing it?") from exc
    if not isinstance(data, dict):
        raise ResultsError(f"{file} does not hold a results object")
    try:
        return migrate(data)
    except ResultsError as exc:
        raise ResultsError(f"{file}: {exc}") from exc


def read_raw(directory: Path | str, cell: dict[str, Any]) -> list[dict[str, Any]]:
    if not cell.get("raw"):
        return []
    path = Path(directory) / cell["raw"]
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------
# Migrations: MIGRATIONS[v] turns a schema-v file into a schema-(v+1) file.


# Schema 1 named summary figures flat ("latency_p99_us", "peak_uss", "lost"); schema 2 names every
# figure by its path in a cell's metrics ("latency_us.p99"), as the scenario declares it.
_V1_NAMES: list[tuple[str, str]] = [
    (r"hop_(p\w+?|max|min|mean)_us", r"hop_latency_us.\1"),
    (r"latency_(p\w+?|max|min|mean)_us", r"latency_us.\1"),
    (r"(idle|peak)_(uss|pss|rss|processes)", r"\1.\2"),
    (r"(completed|duplicate|failed|pending|lost)", r"counts.\1"),
    (r"error_(p\w+?|max|min)_ms", r"error_ms.\1"),
    (r"(high|default)_share", r"share.\1"),
    (r"time_to_success_(p50|max)_s", r"time_to_success_s.\1"),
]


def figure_name_v1(metric: str) -> str:
    for pattern, path in _V1_NAMES:
        if re.fullmatch(pattern, metric):
            return re.sub(pattern, path, metric)
    return metric


def _from_1(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 -> 2: summary figures named by path; retries cells carry the figures schema 1
    computed in its summary (jobs succeeded, attempts per job); no scenarios block (a reader
    takes the declarations of the scenarios installed)."""
    for row in data.get("summary") or []:
        if isinstance(row, dict) and "metric" in row:
            row["metric"] = figure_name_v1(str(row["metric"]))
    for cell in data.get("cells") or []:
        if isinstance(cell, dict) and cell.get("scenario") == "retries":
            metrics = cell.get("metrics") or {}
            jobs = metrics.get("jobs") or []
            if jobs and "succeeded" not in metrics:
                metrics["succeeded"] = sum(1 for j in jobs if j.get("final") == "succeeded")
                metrics["attempts_per_job"] = sum(len(j.get("attempts") or []) for j in jobs) / len(jobs)
    data.setdefault("scenarios", {})
    data["schema"] = 2
    return data


MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {1: _from_1}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring a results object to SCHEMA, one version at a time; ResultsError for a schema this
    version cannot read (newer, or unknown)."""
    version = data.get("schema")
    while version != SCHEMA:
        step = MIGRATIONS.get(version) if isinstance(version, int) else None
        if step is None:
            raise ResultsError(f"results schema {version!r}; this queuebench reads schema "
                               f"{SCHEMA} (and migrates {', '.join(map(str, sorted(MIGRATIONS)))}): "
                               "rebuild it with the queuebench version that wrote it")
        data = step(data)
        version = data.get("schema")
    return data
