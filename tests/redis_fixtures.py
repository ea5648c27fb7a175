"""pytest fixtures on a real Redis, started by the same launcher the harness uses.

- redis_server (session): the embedded server, or None when REDIS_URL points elsewhere.
- redis_url (per test): the URL of a clean database (embedded: FLUSHDB; REDIS_URL: a claimed
  database, see core.redis_server.claim_database; never FLUSHALL).
- redis_client (per test): a redis-py client on that database, closed afterwards.
- run_dir (per test): a fresh run directory, with QUEUEBENCH_RUN_DIR pointing at it.
- workload_factory (per test): prepare(name, **options) -> a set-up workload, torn down afterwards.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from core.redis_server import EmbeddedRedis, claim_database


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis | None]:
    if os.environ.get("REDIS_URL"):
        yield None
        return
    with EmbeddedRedis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: EmbeddedRedis | None) -> str:
    if redis_server is None:
        url = os.environ["REDIS_URL"]
        claim_database(url)
        return url
    client = redis.Redis.from_url(redis_server.url)
    client.flushdb()
    client.close()
    return redis_server.url


@pytest.fixture
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


@pytest.fixture
def run_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from core.probe import ENV_RUN_DIR

    path = tmp_path / "run"
    path.mkdir()
    monkeypatch.setenv(ENV_RUN_DIR, str(path))
    return path


@pytest.fixture
def workload_factory(run_dir: Path) -> Iterator[Callable[..., Any]]:
    from workloads import registry

    made: list[Any] = []

    def make(name: str, **options: Any) -> Any:
        workload = registry.prepare(name, run_dir, options)
        made.append(workload)
        return workload

    yield make
    for workload in made:
        workload.teardown()
