"""The results format (schema 1), shared by the harness that writes it and the report that
reads it:

    results/<run-id>/results.json            metadata, systems and configs, cells, summary
    results/<run-id>/raw/<cell-id>.jsonl     the probe records of one cell
    results/<run-id>/raw/<cell-id>.latency.hdr   its latency histogram (compressed HDR), optional

results.json is rewritten atomically after every cell, so an interrupted run keeps what it
finished ("partial": true). read() checks the schema version and gives the same structure back.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any

SCHEMA = 1
STATUSES = ("ok", "unsupported", "error", "skipped")
SCENARIO_NAMES = ("floor", "throughput", "latency", "memory", "retries", "crash", "scheduled",
                  "priority")


class ResultsError(ValueError):
    """A results file that cannot be read (missing, not JSON, or another schema)."""


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
    cells: list[Cell] = field(default_factory=list)
    summary: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "run_id": self.run_id,
            "profile": self.profile,
            "partial": self.partial,
            "started": self.started,
            "finished": self.finished,
            "metadata": self.metadata,
            "systems": self.systems,
            "cells": [c.to_json() for c in self.cells],
            "summary": self.summary,
        }


def run_dir(out: Path | str, run_id: str) -> Path:
    return Path(out) / run_id


def raw_path(directory: Path, cell: str, suffix: str = ".jsonl") -> Path:
    return directory / "raw" / f"{cell}{suffix}"


def write(run: Run, directory: Path) -> Path:
    """Write results.json atomically (a reader never sees half a file)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "results.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(run.to_json(), indent=1, default=str))
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


def read(directory: Path | str) -> dict[str, Any]:
    """results.json of a run directory (or the file itself), schema-checked."""
    path = Path(directory)
    if path.is_dir():
        path = path / "results.json"
    if not path.is_file():
        raise ResultsError(f"no results at {path}: run `queuebench run` first or pass a run directory")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ResultsError(f"{path} is not valid JSON: {exc}") from exc
    if data.get("schema") != SCHEMA:
        raise ResultsError(f"{path} has schema {data.get('schema')!r}; this queuebench reads schema {SCHEMA}")
    return data  # type: ignore[no-any-return]


def read_raw(directory: Path | str, cell: dict[str, Any]) -> list[dict[str, Any]]:
    if not cell.get("raw"):
        return []
    path = Path(directory) / cell["raw"]
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ---------------------------------------------------------------------------------------------
# Metadata


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def packages() -> dict[str, str]:
    """Every installed distribution and its version."""
    out: dict[str, str] = {}
    for dist in importlib_metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            out[name] = dist.version
    return dict(sorted(out.items(), key=lambda kv: kv[0].lower()))


def redis_version(url: str) -> str:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return str(client.info("server").get("redis_version", "unknown"))
    except redis.RedisError as exc:
        return f"unknown ({exc})"
    finally:
        client.close()


def collect_metadata(redis_url: str, embedded: bool, argv: list[str] | None = None) -> dict[str, Any]:
    import psutil

    return {
        "host": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count() or 1,
        "memory_bytes": int(psutil.virtual_memory().total),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "packages": packages(),
        "redis_version": redis_version(redis_url),
        "redis": "embedded" if embedded else "external",
        "argv": list(sys.argv if argv is None else argv),
    }
