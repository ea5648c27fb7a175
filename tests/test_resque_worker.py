"""The worker loop: queue order, fork and no-fork, hooks, bad payloads, settings, Redis outages."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import psutil
import pytest
from resque_jobs import (
    ROOT,
    Crasher,
    Echo,
    HandledFailure,
    Hooked,
    Skipper,
    events,
)
from system_helpers import wait_for

from comparisons.resque_clone import Resque
from comparisons.resque_clone.keys import VERSION
from core.redis_server import EmbeddedRedis


def drain(resque_worker, *args, env=None):
    """Run a worker with INTERVAL 0: it works until the queues are empty, then exits."""
    worker = resque_worker(*args, "--interval", "0", env=env, wait=False)
    assert worker.wait(timeout=30) == 0, worker.output()
    return worker


def echoed(run_dir):
    return [e["args"][0] for e in events(run_dir, "echo")]


def test_queues_are_checked_in_the_order_given(resque, resque_worker, run_dir):
    for i in range(3):
        resque.enqueue_to("low", Echo, f"low{i}")
        resque.enqueue_to("high", Echo, f"high{i}")
    drain(resque_worker, "--queue", "high,low")
    assert echoed(run_dir) == ["high0", "high1", "high2", "low0", "low1", "low2"]


def test_star_is_every_queue_alphabetically_and_bang_excludes(resque, resque_worker, run_dir):
    for q in ("c", "a", "b", "skip"):
        resque.enqueue_to(q, Echo, q)
    drain(resque_worker, "--queue", "*,!skip")
    assert echoed(run_dir) == ["a", "b", "c"]
    assert resque.size("skip") == 1


def test_named_queue_first_then_the_rest(resque, resque_worker, run_dir):
    for q in ("a", "critical", "b"):
        resque.enqueue_to(q, Echo, q)
    drain(resque_worker, "--queue", "critical,*")
    assert echoed(run_dir) == ["critical", "a", "b"]


def test_fork_per_job_runs_each_job_in_a_new_child(resque, resque_worker, run_dir):
    for i in range(3):
        resque.enqueue(Echo, i)
    worker = drain(resque_worker, "--queue", "default")
    pids = [e["pid"] for e in events(run_dir, "echo")]
    assert len(set(pids)) == 3 and worker.pid not in pids
    assert [e["pid"] for e in events(run_dir, "before_fork")] == [worker.pid] * 3
    assert [e["pid"] for e in events(run_dir, "after_fork")] == pids
    assert [e["pid"] for e in events(run_dir, "before_first_fork")] == [worker.pid]


@pytest.mark.parametrize("how", [["--no-fork"], "env"])
def test_no_fork_runs_jobs_in_the_worker(resque, resque_worker, run_dir, how):
    for i in range(3):
        resque.enqueue(Echo, i)
    if how == "env":
        worker = drain(resque_worker, "--queue", "default", env={"FORK_PER_JOB": "false"})
    else:
        worker = drain(resque_worker, "--queue", "default", *how)
    assert [e["pid"] for e in events(run_dir, "echo")] == [worker.pid] * 3
    assert events(run_dir, "before_fork") == []


def test_queue_and_interval_come_from_the_environment(resque, resque_worker, run_dir):
    resque.enqueue_to("envq", Echo, "from-env")
    resque.enqueue_to("other", Echo, "not-mine")
    worker = resque_worker(env={"QUEUE": "envq", "INTERVAL": "0"}, wait=False)
    assert worker.wait(timeout=30) == 0, worker.output()
    assert echoed(run_dir) == ["from-env"] and resque.size("other") == 1


def test_vverbose_logs_each_job_and_title(resque, resque_worker, run_dir):
    resque.enqueue(Echo, "loud")
    worker = resque_worker("--queue", "default", "--interval", "0", env={"VVERBOSE": "1"}, wait=False)
    assert worker.wait(timeout=30) == 0, worker.output()
    out = worker.output()
    assert "got: (Job{default} | Echo" in out and "done: (Job{default} | Echo" in out
    assert f"resque-{VERSION}: Processing default since" in out


def test_job_hooks_run_in_name_order_around_perform(resque, resque_worker, run_dir):
    resque.enqueue(Hooked, False)
    drain(resque_worker, "--queue", "default")
    names = [e["event"] for e in events(run_dir) if e["event"] not in ("before_fork", "after_fork", "before_first_fork")]
    assert names == ["before_perform_a", "before_perform_b", "around_enter", "perform", "around_exit",
                     "after_perform_a"]


def test_failure_runs_on_failure_hooks_and_skips_after_perform(resque, resque_worker, run_dir, redis_client):
    resque.enqueue(Hooked, True)
    drain(resque_worker, "--queue", "default")
    names = [e["event"] for e in events(run_dir)]
    assert "after_perform_a" not in names and "around_exit" not in names
    [hook] = events(run_dir, "on_failure_a")
    assert hook["error"] == "hooked failure" and hook["args"] == [True]
    assert redis_client.llen("resque:failed") == 1


def test_dont_fail_from_an_on_failure_hook_writes_no_failure_record(resque, resque_worker, run_dir,
                                                                    redis_client):
    resque.enqueue(HandledFailure)
    resque.enqueue(Echo, "next")
    drain(resque_worker, "--queue", "default")
    assert [e["error"] for e in events(run_dir, "handled")] == ["handled elsewhere"]
    assert redis_client.llen("resque:failed") == 0
    assert redis_client.get("resque:stat:failed") == b"1"  # still counted, as in Resque
    assert echoed(run_dir) == ["next"]


def test_dont_perform_skips_the_job_without_a_failure(resque, resque_worker, run_dir, redis_client):
    resque.enqueue(Skipper)
    drain(resque_worker, "--queue", "default")
    assert events(run_dir, "skipper-performed") == []
    assert redis_client.llen("resque:failed") == 0
    assert redis_client.get("resque:stat:processed") == b"1"


@pytest.mark.parametrize("fork", ["--fork", "--no-fork"])
def test_bad_payloads_become_failures_and_the_worker_keeps_running(resque, resque_worker, run_dir,
                                                                   redis_client, fork):
    redis_client.sadd("resque:queues", "default")
    redis_client.rpush("resque:queue:default", b"{not json", b'{"class":"NoSuchJob","args":[1]}',
                       b'{"class":"Echo","args":{"a":1}}')
    worker = resque_worker("--queue", "default", "--interval", "0.05", fork)
    resque.enqueue(Echo, "after")
    wait_for(lambda: echoed(run_dir) == ["after"], what="the good job after the bad ones")
    assert worker.proc.poll() is None
    records = [json.loads(r) for r in redis_client.lrange("resque:failed", 0, -1)]
    assert [r["exception"] for r in records] == ["InvalidPayload", "NameError", "InvalidPayload"]
    assert records[0]["payload"] == "{not json" and "not valid JSON" in records[0]["error"]
    assert "has not loaded job class 'NoSuchJob'" in records[1]["error"]
    assert "restart the worker after new job code is added" in records[1]["error"]
    assert '"args" must be a JSON array' in records[2]["error"]
    assert redis_client.get("resque:stat:failed") == b"3"


def test_a_child_killed_by_a_signal_is_a_dirty_exit(resque, resque_worker, run_dir, redis_client):
    resque.enqueue(Crasher)
    resque.enqueue(Echo, "next")
    drain(resque_worker, "--queue", "default")
    [record] = [json.loads(r) for r in redis_client.lrange("resque:failed", 0, -1)]
    assert record["exception"] == "Resque::DirtyExit" and "SIGKILL" in record["error"]
    assert echoed(run_dir) == ["next"]


def test_worker_rides_out_a_redis_outage(run_dir, resque_worker, monkeypatch):
    with EmbeddedRedis() as server:
        port = server.port
        worker = resque_worker("--queue", "default,*", "--interval", "0.05", redis=server.url,
                               wait=False)
        client = Resque(server.url)
        wait_for(lambda: client.workers(), what="registration")
    # the server is gone: the worker logs and retries instead of dying
    wait_for(lambda: worker.output().count("Redis unavailable") >= 2 or worker.proc.poll() is not None,
             what="two failed reconnection rounds")
    assert worker.proc.poll() is None, worker.output()
    # redis-server binds with SO_REUSEADDR, so the same port is usable again at once; the
    # launcher's own pre-check does not set it and would see the old connections in TIME_WAIT
    monkeypatch.setattr("core.redis_server.port_is_free", lambda *_: True)
    with EmbeddedRedis(port=port) as again:
        client = Resque(again.url)
        client.enqueue(Echo, "back")
        wait_for(lambda: echoed(run_dir) == ["back"], timeout=20, what="a job after reconnecting")
        assert worker.proc.poll() is None
        client.conn.close()


def run_cli(*args, env=None):
    return subprocess.run([sys.executable, "-m", "comparisons.resque_clone", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", **(env or {})})


def test_cli_refuses_a_worker_without_queues(redis_url):
    out = run_cli("work", "--redis", redis_url)
    assert out.returncode == 2 and "at least one queue" in out.stderr


def test_cli_refuses_an_unknown_flag():
    out = run_cli("work", "--bogus")
    assert out.returncode == 2 and "unrecognized arguments: --bogus" in out.stderr


def test_cli_reports_a_require_that_cannot_load(redis_url):
    out = run_cli("work", "--redis", redis_url, "--queue", "*", "--require", "no.such.module")
    assert out.returncode == 1 and "cannot load --require no.such.module" in out.stderr


def test_cli_needs_a_redis_url():
    out = run_cli("work", "--queue", "*")
    assert out.returncode == 1 and "no Redis given" in out.stderr


def test_cli_rejects_a_bad_interval(redis_url):
    out = run_cli("work", "--redis", redis_url, "--queue", "*", env={"INTERVAL": "soon"})
    assert out.returncode == 2 and "INTERVAL='soon' is not a number" in out.stderr


def test_cli_rejects_a_negative_term_timeout(redis_url):
    out = run_cli("work", "--redis", redis_url, "--queue", "*", "--term-timeout", "-1")
    assert out.returncode == 2 and "term timeout must be >= 0" in out.stderr


def test_cli_reports_a_pidfile_it_cannot_write(redis_url, tmp_path):
    out = run_cli("work", "--redis", redis_url, "--queue", "*",
                  env={"PIDFILE": str(tmp_path / "no-such-dir" / "w.pid")})
    assert out.returncode == 2 and "cannot write the pid file" in out.stderr


def test_pidfile_holds_the_worker_pid(resque_worker, tmp_path):
    pidfile = tmp_path / "worker.pid"
    worker = resque_worker("--queue", "default", "--interval", "0.1", env={"PIDFILE": str(pidfile)})
    assert pidfile.read_text() == str(worker.pid)


def test_background_detaches_and_the_daemon_keeps_working(resque, resque_worker, run_dir,
                                                          redis_client, tmp_path):
    pidfile = tmp_path / "daemon.pid"
    launcher = resque_worker("--queue", "default", "--interval", "0.05", "--background",
                             "--pidfile", str(pidfile), wait=False)
    assert launcher.wait(timeout=30) == 0, launcher.output()  # returns at once
    pid = int(wait_for(lambda: pidfile.exists() and pidfile.read_text(), what="the pid file"))
    try:
        assert pid != launcher.pid and psutil.Process(pid).ppid() != launcher.pid
        assert os.getsid(pid) == pid  # its own session: no terminal can hang it up
        wait_for(lambda: any(w.decode().split(":")[1] == str(pid)
                             for w in redis_client.smembers("resque:workers")), what="registration")
        resque.enqueue(Echo, "from-daemon")
        wait_for(lambda: echoed(run_dir) == ["from-daemon"], what="the daemon's job")
        os.kill(pid, signal.SIGQUIT)
        wait_for(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE,
                 what="the daemon to exit")
        assert redis_client.smembers("resque:workers") == set()
    finally:
        if psutil.pid_exists(pid):
            os.kill(pid, signal.SIGKILL)


def registered_pids(redis_client):
    return {int(w.decode().split(":")[1]) for w in redis_client.smembers("resque:workers")}


def test_workers_runs_count_workers_and_passes_signals_on(resque, resque_worker, run_dir,
                                                          redis_client):
    pool = resque_worker("--queue", "default", "--interval", "0.05", command="workers",
                         env={"COUNT": "2"}, wait=False)
    pids = wait_for(lambda: len(registered_pids(redis_client)) == 2 and registered_pids(redis_client),
                    what="two workers")
    assert pids == set(pool.children())
    for i in range(6):
        resque.enqueue(Echo, i)
    wait_for(lambda: sorted(echoed(run_dir)) == list(range(6)), what="the jobs")
    pool.signal(signal.SIGQUIT)
    assert pool.wait(timeout=15) == 0, pool.output()
    assert redis_client.smembers("resque:workers") == set()
    assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
                   for p in pids)


def test_each_of_the_workers_gets_every_setting_but_count_pidfile_and_background():
    from comparisons.resque_clone import pool

    argv = ["--count", "3", "--queue", "a,b", "--pidfile", "/tmp/p", "--background", "--count=4",
            "--pidfile=/tmp/q", "--term-child", "-r", "jobs.py"]
    assert pool.work_argv(argv) == ["--queue", "a,b", "--term-child", "-r", "jobs.py"]
    assert pool.work_env({"COUNT": "3", "PIDFILE": "p", "BACKGROUND": "1", "QUEUE": "*"}) == {"QUEUE": "*"}


def test_workers_needs_a_count(redis_url):
    out = run_cli("workers", "--redis", redis_url, "--queue", "*")
    assert out.returncode == 2 and "give --count N (or COUNT=N)" in out.stderr


def test_workers_exits_1_when_its_workers_cannot_start(redis_url):
    out = run_cli("workers", "--count", "2", "--redis", redis_url, "--queue", "*",
                  "--require", "no.such.module")
    assert out.returncode == 1
    assert out.stderr.count("cannot load --require no.such.module") == 2


def test_blocking_fetch_starts_a_job_on_push_not_after_the_interval(resque, resque_worker, run_dir):
    resque_worker("--queue", "default", "--interval", "30", "--blocking")
    time.sleep(0.3)  # the worker is now blocked in BLPOP
    t0 = time.time()
    resque.enqueue(Echo, "now")
    [event] = wait_for(lambda: events(run_dir, "echo"), timeout=10, what="the job")
    assert event["t"] - t0 < 5  # a polling worker with INTERVAL 30 would sleep up to 30 s


def test_blocking_fetch_keeps_queue_priority(resque, resque_worker, run_dir):
    for q in ("low", "high"):
        resque.enqueue_to(q, Echo, q)
    worker = resque_worker("--queue", "high,low", "--interval", "0.2", "--blocking")
    wait_for(lambda: len(events(run_dir, "echo")) == 2, what="both jobs")
    assert echoed(run_dir) == ["high", "low"]
    worker.signal(signal.SIGQUIT)
    assert worker.wait(timeout=10) == 0  # QUIT while blocked: exits within one BLPOP timeout


def test_heartbeat_is_refreshed_while_the_worker_lives(resque, resque_worker, redis_client):
    worker = resque_worker("--queue", "default", "--interval", "0.1", "--heartbeat-interval", "1")
    wid = f"{socket.gethostname()}:{worker.pid}:default"
    first = wait_for(lambda: redis_client.hget("resque:workers:heartbeat", wid), what="a heartbeat")
    wait_for(lambda: redis_client.hget("resque:workers:heartbeat", wid) != first, timeout=5,
             what="a newer heartbeat")


def test_cli_web_says_clearly_when_the_dashboard_module_is_missing():
    code = ("import sys; sys.modules['comparisons.resque_clone.web'] = None; "
            "from comparisons.resque_clone.cli import main; sys.exit(main(['web']))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                         timeout=30)
    assert out.returncode == 1 and "comparisons.resque_clone.web is not installed" in out.stderr


def test_cli_stats_prints_counters(resque, redis_url):
    resque.enqueue(Echo, 1)
    out = run_cli("stats", "--redis", redis_url)
    assert out.returncode == 0 and json.loads(out.stdout)["pending"] == 1


def test_cli_says_when_redis_cannot_be_reached():
    from core.redis_server import free_port

    url = f"redis://127.0.0.1:{free_port()}/0"
    out = run_cli("work", "--redis", url, "--queue", "*")
    assert out.returncode == 1 and f"cannot reach Redis at {url}" in out.stderr
