"""Helpers for tests that drive a System through the System contract (core.contract): the `drive` fixture (loaded
as a pytest plugin by tests/conftest.py), polling with a deadline, reading probe records, and
skipping (or, under CI, failing) when an outside tool is missing."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from core import probe, registry
from core.contract import JobSpec, System, WorkerGroup
from core.errors import ConfigUnavailable, SystemUnavailable


def wait_for(check: Callable[[], Any], timeout: float = 10.0, what: str = "condition",
             every: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(every)


def needs(reason: str | None, what: str) -> None:
    """Skip the test when `reason` says a tool it needs is missing, printing why; under CI=true
    (.ci/run installs every such tool) fail instead, so a missing install step cannot hide.
    `what` reads like "browser tests need Chromium"."""
    if not reason:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} under CI: {reason}")
    print(f"\nskipping ({what}): {reason}", file=sys.stderr)
    pytest.skip(reason)


def records(run_dir: Path, job_id: str | None = None) -> list[dict[str, Any]]:
    """Probe records (of one job, if given), in start order."""
    got = [r for r in probe.read_records(run_dir) if job_id is None or r["job"] == job_id]
    return sorted(got, key=lambda r: r["start"])


def ok_jobs(run_dir: Path) -> set[str]:
    return {r["job"] for r in probe.read_records(run_dir) if r["outcome"] == "ok"}


@dataclass
class Driven:
    """A system under test and the worker groups it started (stopped at teardown)."""

    system: System
    groups: list[WorkerGroup] = field(default_factory=list)

    def start(self, workload: str) -> WorkerGroup:
        group = self.system.start(workload)
        self.groups.append(group)
        return group

    def job(self, workload: str, args: list[Any] | None = None, **kw: Any) -> JobSpec:
        return JobSpec(JobSpec.new_id(), workload, list(args or []), **kw)


@pytest.fixture
def drive(redis_url: str, run_dir: Path) -> Iterator[Callable[..., Driven]]:
    """drive(name, config="default") -> a Driven system on the test's Redis and run directory;
    skips when the system or config is unavailable here; stops every worker afterwards."""
    made: list[Driven] = []

    def make(name: str, config: str = "default") -> Driven:
        try:
            cls = registry.system(name)
            cfg = cls.config_named(config)
            cls.check_config(cfg)
            driven = Driven(cls(redis_url, run_dir, cfg))
        except (SystemUnavailable, ConfigUnavailable) as exc:
            print(f"skipped: {exc}")
            pytest.skip(str(exc))
        made.append(driven)
        return driven

    yield make
    for driven in made:
        try:
            for group in driven.groups:
                driven.system.stop(group, graceful=False)
        finally:
            driven.system.close()
