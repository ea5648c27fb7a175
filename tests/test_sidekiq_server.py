"""The Sidekiq clone server as a real process: jobs, retries, schedule, heartbeat, signals,
shutdown, crash with and without reliable fetch, bad payloads."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from typing import Any

import pytest
import redis
import sidekiq_jobs
from sidekiq_jobs import (  # noqa: F401 - sidekiq_server_fixture provides sidekiq_server
    ROOT,
    SCALE,
    events,
    sidekiq_server_fixture,
)
from system_helpers import wait_for

from comparisons.sidekiq_clone.client import Client


@pytest.fixture
def client(redis_client: redis.Redis) -> Client:
    return Client(redis_client)


def push(client: Client, klass: str, *args: Any, **options: Any) -> str:
    """Push by class when this process knows it (so its sidekiq_options apply, as in Sidekiq),
    else by name."""
    jid = client.push({"class": getattr(sidekiq_jobs, klass, klass), "args": list(args), **options})
    assert jid
    return jid


def test_jobs_run_on_fresh_instances_through_server_middleware(
        sidekiq_server: Any, client: Client, redis_client: redis.Redis) -> None:
    sidekiq_server("-c", "3")
    for i in range(20):
        push(client, "Recorder", i)
    ran = wait_for(lambda: len(events(redis_client, "ran")) == 20 and events(redis_client, "ran"),
                   10, "20 jobs to run")
    assert sorted(e["args"][0] for e in ran) == list(range(20))
    assert all(e["fresh"] for e in ran)  # one new instance per execution
    assert all(e["trace"] == ["tracing:default"] for e in ran)
    assert len({e["thread"] for e in ran}) > 1  # several processor threads


def test_verbose_logs_a_start_and_a_done_line_per_job(
        sidekiq_server: Any, client: Client, redis_client: redis.Redis) -> None:
    server = sidekiq_server("-c", "1", "-v")
    jid = push(client, "Recorder", 1)
    wait_for(lambda: f"jid={jid} done: " in server.log_text(), 10, "the done line")
    assert f"class=Recorder jid={jid} start" in server.log_text()


def test_failing_job_retries_with_scaled_backoff_then_succeeds(
        sidekiq_server: Any, client: Client, redis_client: redis.Redis) -> None:
    sidekiq_server("-c", "2", poll=0.05)
    push(client, "FailTwice", "t1")
    attempts = wait_for(lambda: len(events(redis_client, "attempt")) >= 3
                        and events(redis_client, "attempt"), 15, "three attempts")
    assert [a["retry_count"] for a in attempts] == [None, 0, 1]
    for k, (a, b) in enumerate(zip(attempts, attempts[1:], strict=False)):
        gap = b["t"] - a["t"]
        low = (k**4 + 15) * SCALE
        high = (k**4 + 15 + 9 * (k + 1)) * SCALE + 0.05 * 1.5 + 0.3  # + poller granularity
        assert low <= gap <= high, (k, gap)
    time.sleep(0.3)
    assert redis_client.zcard("retry") == 0 and redis_client.zcard("dead") == 0


def test_exhausted_job_goes_to_dead_after_the_hook(
        sidekiq_server: Any, client: Client, redis_client: redis.Redis) -> None:
    sidekiq_server("-c", "2", poll=0.05)
    jid = push(client, "AlwaysFails", "t2")
    wait_for(lambda: redis_client.zcard("dead") == 1, 15, "the job in the dead set")
    dead = json.loads(redis_client.zrange("dead", 0, -1)[0])
    assert dead["jid"] == jid and dead["retry_count"] == 1
    assert dead["error_class"] == "ValueError" and dead["error_message"] == "always fails: t2"
    assert [e["token"] for e in events(redis_client, "exhausted")] == ["t2"]
    assert len(events(redis_client, "attempt")) == 2


def test_scheduled_job_runs_when_due(sidekiq_server: Any, client: Client,
                                     redis_client: redis.Redis) -> None:
    sidekiq_server("-c", "2", poll=0.05)
    at = time.time() + 0.6
    push(client, "Recorder", "later", at=at)
    assert redis_client.zcard("schedule") == 1
    (ran,) = wait_for(lambda: events(redis_client, "ran"), 10, "the scheduled job")
    assert at <= ran["t"] <= at + 0.6
    assert redis_client.zcard("schedule") == 0


def test_heartbeat_publishes_process_work_and_stats(
        sidekiq_server: Any, client: Client, redis_client: redis.Redis) -> None:
    server = sidekiq_server("-c", "4", "-q", "critical", "-q", "default", "-g", "tagged")
    ident = server.identity
    info = json.loads(redis_client.hget(ident, "info"))
    assert info["pid"] == server.pid and info["concurrency"] == 4 and info["tag"] == "tagged"
    assert info["queues"] == ["critical", "default"] and info["identity"] == ident
    assert 0 < redis_client.ttl(ident) <= 60
    assert redis_client.hget(ident, "quiet") == b"false"
    assert int(redis_client.hget(ident, "rss")) > 0
    push(client, "Slow", "s", 1.0)
    work = wait_for(lambda: redis_client.hgetall(ident + ":work"), 5, "the work hash")
    entry = json.loads(next(iter(work.values())))
    assert entry["queue"] == "default" and json.loads(entry["payload"])["class"] == "Slow"
    assert redis_client.hget(ident, "busy") in (b"1", b"0")
    push(client, "Recorder", 1)
    day = time.strftime("%Y-%m-%d", time.gmtime())
    wait_for(lambda: redis_client.get("stat:processed") == b"2", 5, "stats flushed")
    assert redis_client.get(f"stat:processed:{day}") == b"2"


def test_expired_processes_are_cleaned_up_at_start(sidekiq_server: Any,
                                                   redis_client: redis.Redis) -> None:
    redis_client.sadd("processes", "ghost:1:aaaaaaaaaaaa")
    server = sidekiq_server()
    assert redis_client.smembers("processes") == {server.identity.encode()}


def test_graceful_term_finishes_running_jobs_and_loses_nothing(
        sidekiq_server: Any, client: Client, redis_client: redis.Redis) -> None:
    server = sidekiq_server("-c", "3", "-t", "5")
    for i in range(9):
        push(client, "Slow", f"g{i}", 0.4)
    wait_for(lambda: len(events(redis_client, "start")) >= 3, 5, "jobs to start")
    server.signal(signal.SIGTERM)
    assert server.wait(10) == 0
    started = {e["token"] for e in events(redis_client, "start")}
    done = {e["token"] for e in events(redis_client, "done")}
    assert started == done  # every started job finished within the timeout
    queued = {json.loads(j)["args"][0] for j in redis_client.lrange("queue:default", 0, -1)}
    assert done | queued == {f"g{i}" for i in range(9)} and not done & queued
    assert not redis_client.sismember("processes", server.identity)


def test_term_past_the_timeout_pushes_running_jobs_back(
        sidekiq_server: Any, client: Client, redis_client: redis.Redis) -> None:
    server = sidekiq_server("-c", "2", "-t", "0.3")
    push(client, "Slow", "long1", 30)
    push(client, "Slow", "long2", 30)
    wait_for(lambda: len(events(redis_client, "start")) == 2, 5, "both jobs to start")
    server.signal(signal.SIGTERM)
    assert server.wait(10) == 0
    assert events(redis_client, "done") == []
    back = sorted(json.loads(j)["args"][0] for j in redis_client.lrange("queue:default", 0, -1))
    assert back == ["long1", "long2"]
    assert "Pushed 2 jobs back to Redis" in server.log_text()


def test_sigkill_with_basic_fetch_loses_the_running_jobs(
        sidekiq_server: Any, client: Client, redis_client: redis.Redis) -> None:
    server = sidekiq_server("-c", "2", "-t", "1")
    for i in range(4):
        push(client, "Slow", f"k{i}", 30)
    wait_for(lambda: len(events(redis_client, "start")) == 2, 5, "two jobs to start")
    server.signal(signal.SIGKILL)
    server.wait(5)
    sidekiq_server("-c", "2", "-t", "1")  # a new process cannot know about them
    time.sleep(0.5)
    running = {e["token"] for e in events(redis_client, "start")[:2]}
    queued = {json.loads(j)["args"][0] for j in redis_client.lrange("queue:default", 0, -1)}
    assert not running & queued  # the two popped jobs are nowhere in Redis
    assert not redis_client.keys("inprogress:*")


def test_sigkill_with_reliable_fetch_loses_nothing(
        sidekiq_server: Any, client: Client, redis_client: redis.Redis) -> None:
    server = sidekiq_server("-c", "2", "--reliable")
    for i in range(4):
        push(client, "Slow", f"r{i}", 0.5 if i >= 2 else 30)
    wait_for(lambda: len(events(redis_client, "start")) == 2, 5, "two jobs to start")
    assert redis_client.llen(f"inprogress:{server.identity}") == 2
    server.signal(signal.SIGKILL)
    server.wait(5)
    # a new process finds the dead one's private list and gives its jobs back
    replacement = sidekiq_server("-c", "4", "--reliable", "-t", "1")
    assert "recovered 2 in-progress jobs" in replacement.log_text()
    tokens = wait_for(lambda: {e["token"] for e in events(redis_client, "start")} >=
                      {"r0", "r1", "r2", "r3"} and events(redis_client, "start"), 10,
                      "every job to start again")
    assert sum(e["token"] in ("r0", "r1") for e in tokens) >= 4  # ran twice: at least once
    assert redis_client.llen(f"inprogress:{server.identity}") == 0


def test_quiet_and_stop_through_the_signals_list(
        sidekiq_server: Any, client: Client, redis_client: redis.Redis) -> None:
    server = sidekiq_server("-c", "2")
    redis_client.lpush(f"{server.identity}-signals", "TSTP")
    wait_for(lambda: redis_client.hget(server.identity, "quiet") == b"true", 5, "quiet=true")
    push(client, "Recorder", "ignored")
    time.sleep(0.5)
    assert events(redis_client, "ran") == [] and redis_client.llen("queue:default") == 1
    redis_client.lpush(f"{server.identity}-signals", "TERM")
    assert server.wait(10) == 0


def test_ttin_dumps_every_thread_to_the_log(sidekiq_server: Any) -> None:
    server = sidekiq_server("-c", "2")
    server.signal(signal.SIGTTIN)
    text = wait_for(lambda: "processor-2" in server.log_text() and "Thread TID-" in
                    server.log_text() and server.log_text(), 5, "the thread dump")
    assert "heartbeat" in text and "scheduler" in text and 'File "' in text


def test_unknown_class_is_retried_with_a_restart_hint(
        sidekiq_server: Any, client: Client, redis_client: redis.Redis) -> None:
    sidekiq_server("-c", "2")
    jid = push(client, "NotDeployedYet", 1)
    wait_for(lambda: redis_client.zcard("retry") == 1, 5, "the job in the retry set")
    job = json.loads(redis_client.zrange("retry", 0, -1)[0])
    assert job["jid"] == jid and job["error_class"] == "UnknownJobClass"
    assert "must be restarted after new job code is added" in job["error_message"]
    push(client, "Recorder", "still alive")
    wait_for(lambda: events(redis_client, "ran"), 5, "the next job")


@pytest.mark.parametrize("bad", [b"{not json", b"[1,2]", b'{"class":"Recorder","args":5}'])
def test_invalid_payload_goes_to_dead_and_the_worker_keeps_going(
        sidekiq_server: Any, client: Client, redis_client: redis.Redis, bad: bytes) -> None:
    sidekiq_server("-c", "1")
    redis_client.lpush("queue:default", bad)
    wait_for(lambda: redis_client.zcard("dead") == 1, 5, "the payload in dead")
    entry = json.loads(redis_client.zrange("dead", 0, -1)[0])
    assert entry["payload"] == bad.decode() and entry["malformed"] is True
    assert entry["error_class"] == "InvalidJob" and entry["error_message"]
    push(client, "Recorder", "after")
    wait_for(lambda: events(redis_client, "ran"), 5, "the next job")


def start_redis(port: int) -> subprocess.Popen[bytes]:
    """redis-server on a given port (the old one's sockets may still sit in TIME_WAIT, which
    redis-server's SO_REUSEADDR allows)."""
    from core.procs import die_with_parent
    from core.redis_server import redis_binary

    proc = subprocess.Popen([str(redis_binary()), "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"], stdout=subprocess.DEVNULL,
                            preexec_fn=die_with_parent)
    r = redis.Redis(port=port, socket_connect_timeout=0.2)

    def up() -> bool:
        try:
            return bool(r.ping())
        except redis.ConnectionError:
            return False

    wait_for(up, 10, f"redis-server on port {port}")
    r.close()
    return proc


def test_worker_reconnects_when_redis_comes_back(tmp_path: Any) -> None:
    from core.procs import die_with_parent, stop_tree
    from core.redis_server import free_port

    port = free_port()
    servers = [start_redis(port)]
    proc = None
    try:
        argv = [sys.executable, "-m", "comparisons.sidekiq_clone", "-r", "tests/sidekiq_jobs.py",
                "--redis-url", f"redis://127.0.0.1:{port}/0", "-c", "2", "--beat-interval", "0.2"]
        log = tmp_path / "server.log"
        with open(log, "ab") as fh:
            proc = subprocess.Popen(argv, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                                    preexec_fn=die_with_parent)
        r = redis.Redis(port=port)
        wait_for(lambda: r.scard("processes") == 1, 15, "the server to start")
        servers[0].terminate()  # Redis goes away
        servers[0].wait()
        wait_for(lambda: "Error fetching job" in log.read_text(), 10, "the fetch error")
        servers.append(start_redis(port))  # and comes back, empty
        Client(r).push({"class": "Recorder", "args": ["back"]})
        wait_for(lambda: events(r, "ran"), 15, "the job after the outage")
        assert "Redis is online" in log.read_text() and proc.poll() is None
        r.close()
    finally:
        if proc is not None:
            stop_tree([proc.pid], signal.SIGKILL, timeout=5)
            proc.wait()
        stop_tree([s.pid for s in servers], signal.SIGKILL, timeout=5)
        for s in servers:
            s.wait()


# --- the command line -----------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "comparisons.sidekiq_clone", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=30)


def test_cli_rejects_an_unknown_flag() -> None:
    out = run_cli("--no-such-flag")
    assert out.returncode == 2 and "unrecognized arguments: --no-such-flag" in out.stderr


def test_cli_rejects_a_missing_module() -> None:
    out = run_cli("-r", "no_such_module_here")
    assert out.returncode == 2 and "-r no_such_module_here: cannot import it" in out.stderr


def test_cli_rejects_a_queue_given_twice() -> None:
    out = run_cli("-q", "a", "-q", "a,2")
    assert out.returncode == 2 and "cannot be defined twice" in out.stderr


def test_cli_rejects_a_bad_config_file(tmp_path: Any) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"concurency": 5}')
    out = run_cli("-C", str(path))
    assert out.returncode == 2 and "unknown setting 'concurency'" in out.stderr


def test_web_subcommand_imports_the_dashboard_lazily() -> None:
    out = run_cli("web", "--help")
    try:
        import comparisons.sidekiq_clone.web  # noqa: F401
    except ModuleNotFoundError:
        assert out.returncode == 2 and "comparisons.sidekiq_clone.web is missing" in out.stderr
    else:
        assert "is missing" not in out.stderr


@pytest.mark.parametrize("suffix, text", [
    (".yml", ":concurrency: 3\n:timeout: 4\n:queues:\n  - [high, 2]\n  - low\n"),
    (".json", '{"concurrency": 3, "timeout": 4, "queues": [["high", 2], "low"]}'),
])
def test_config_file_sets_concurrency_and_weighted_queues(
        sidekiq_server: Any, redis_client: redis.Redis, tmp_path: Any, suffix: str, text: str) -> None:
    path = tmp_path / f"sidekiq{suffix}"
    path.write_text(text)
    server = sidekiq_server("-C", str(path))
    info = json.loads(redis_client.hget(server.identity, "info"))
    assert info["concurrency"] == 3 and info["queues"] == ["high", "low"]
    assert "weighted" in server.log_text()


def test_cli_without_a_redis_url_refuses_to_guess() -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    out = subprocess.run([sys.executable, "-m", "comparisons.sidekiq_clone"], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=30)
    assert out.returncode == 2 and "no Redis URL: set REDIS_URL" in out.stderr


def test_a_payload_naming_another_module_imports_nothing(
        sidekiq_server: Any, client: Client, redis_client: redis.Redis, tmp_path: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Class lookup resolves only what the worker already loaded: a dotted name of an
    importable module the worker did not load (-r) runs none of its top level."""
    marker = tmp_path / "imported"
    (tmp_path / "planted_module.py").write_text(
        f"open({str(marker)!r}, 'w').write('ran')\n"
        "from comparisons.sidekiq_clone.worker import Worker\n"
        "class Planted(Worker):\n    def perform(self, *a): pass\n")
    monkeypatch.setenv("PYTHONPATH", str(tmp_path))
    sidekiq_server("-c", "1")
    jid = push(client, "planted_module.Planted", 1, retry=0)
    wait_for(lambda: redis_client.zcard("dead") == 1, 5, "the job in the dead set")
    job = json.loads(redis_client.zrange("dead", 0, -1)[0])
    assert job["jid"] == jid and job["error_class"] == "UnknownJobClass"
    assert "restart the worker after adding it" in job["error_message"]
    assert not marker.exists()


def test_work_hash_is_written_and_removed_under_both_names(
        sidekiq_server: Any, client: Client, redis_client: redis.Redis) -> None:
    """`<identity>:work` (7.x) and `<identity>:workers` (6.x) hold the same running jobs and
    expire together; a clean exit removes both."""
    server = sidekiq_server("-c", "2", "-t", "0.2")
    push(client, "Slow", "both", 30)
    ident = server.identity
    wait_for(lambda: redis_client.hgetall(ident + ":workers"), 5, "the 6.x work hash")
    assert redis_client.hgetall(ident + ":workers") == redis_client.hgetall(ident + ":work")
    assert 0 < redis_client.ttl(ident + ":workers") <= 60
    server.signal(signal.SIGTERM)
    assert server.wait(10) == 0
    assert not redis_client.exists(ident + ":work", ident + ":workers")
