"""Signals with Resque's meanings, sent to real worker processes; and the process title."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import pytest
from resque_jobs import (
    AtExit,
    Echo,
    Graceful,
    Sleeper,
    Stubborn,
    events,
)
from system_helpers import wait_for

from comparisons.resque_clone import procline
from comparisons.resque_clone.keys import VERSION

full_title = pytest.mark.skipif(
    procline.METHOD != "setproctitle",
    reason="setproctitle is not installed: only the 15-byte kernel name is set (prctl)")


def started(run_dir, tag):
    return wait_for(lambda: [e for e in events(run_dir, "sleep-start") if e["tag"] == tag],
                    what=f"job {tag} to start")


def ended(run_dir, tag):
    return [e for e in events(run_dir, "sleep-end") if e["tag"] == tag]


def failures(redis_client):
    return [json.loads(r) for r in redis_client.lrange("resque:failed", 0, -1)]


def test_quit_finishes_the_current_job_then_exits(resque, resque_worker, run_dir, redis_client):
    worker = resque_worker("--queue", "default", "--interval", "0.1")
    resque.enqueue(Sleeper, 0.6, "q")
    resque.enqueue(Echo, "never")
    started(run_dir, "q")
    worker.signal(signal.SIGQUIT)
    assert worker.wait(timeout=10) == 0
    assert ended(run_dir, "q") and failures(redis_client) == []
    assert resque.size("default") == 1  # the next job was not taken
    assert redis_client.smembers("resque:workers") == set()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_term_and_int_kill_the_child_and_exit_now(resque, resque_worker, run_dir, redis_client, sig):
    worker = resque_worker("--queue", "default", "--interval", "0.1")
    resque.enqueue(Sleeper, 30, "t")
    started(run_dir, "t")
    t0 = time.monotonic()
    worker.signal(sig)
    assert worker.wait(timeout=10) == 0
    assert time.monotonic() - t0 < 5
    assert ended(run_dir, "t") == []
    [record] = failures(redis_client)
    assert record["exception"] == "Resque::DirtyExit" and "SIGKILL" in record["error"]
    assert redis_client.smembers("resque:workers") == set()


def test_term_without_fork_interrupts_the_job(resque, resque_worker, run_dir, redis_client):
    worker = resque_worker("--queue", "default", "--interval", "0.1", "--no-fork")
    resque.enqueue(Sleeper, 30, "nf")
    started(run_dir, "nf")
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0
    [record] = failures(redis_client)
    assert record["exception"] == "Resque::TermException" and record["payload"]["class"] == "Sleeper"


def test_usr1_kills_the_child_and_keeps_working(resque, resque_worker, run_dir, redis_client):
    worker = resque_worker("--queue", "default", "--interval", "0.05")
    resque.enqueue(Sleeper, 30, "u")
    resque.enqueue(Echo, "after-usr1")
    started(run_dir, "u")
    worker.signal(signal.SIGUSR1)
    wait_for(lambda: [e for e in events(run_dir, "echo")], what="the next job")
    assert worker.proc.poll() is None and ended(run_dir, "u") == []
    assert [r["exception"] for r in failures(redis_client)] == ["Resque::DirtyExit"]


def test_term_child_sends_term_first_so_the_job_can_clean_up(resque, resque_worker, run_dir,
                                                            redis_client):
    worker = resque_worker("--queue", "default", "--interval", "0.1", "--term-child")
    resque.enqueue(Graceful, 30, "g")
    started(run_dir, "g")
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0
    assert [e["tag"] for e in events(run_dir, "term-caught")] == ["g"]
    [record] = failures(redis_client)
    assert record["exception"] == "Resque::TermException" and record["payload"]["class"] == "Graceful"


def test_term_child_kills_a_job_that_ignores_term_after_the_timeout(resque, resque_worker, run_dir,
                                                                    redis_client):
    worker = resque_worker("--queue", "default", "--interval", "0.1",
                           env={"TERM_CHILD": "1", "RESQUE_TERM_TIMEOUT": "0.8"})
    resque.enqueue(Stubborn, 30, "s")
    started(run_dir, "s")
    t0 = time.monotonic()
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0
    assert 0.8 <= time.monotonic() - t0 < 5
    assert ended(run_dir, "s") == []
    [record] = failures(redis_client)
    assert record["exception"] == "Resque::DirtyExit" and "SIGKILL" in record["error"]
    assert "Sending KILL signal to child" in worker.output()


def test_usr1_with_term_child_terms_the_job_and_keeps_working(resque, resque_worker, run_dir,
                                                              redis_client):
    worker = resque_worker("--queue", "default", "--interval", "0.05", "--term-child")
    resque.enqueue(Graceful, 30, "u")
    resque.enqueue(Echo, "after-usr1")
    started(run_dir, "u")
    worker.signal(signal.SIGUSR1)
    wait_for(lambda: events(run_dir, "echo"), what="the next job")
    assert worker.proc.poll() is None and events(run_dir, "term-caught")
    assert [r["exception"] for r in failures(redis_client)] == ["Resque::TermException"]


def test_graceful_term_finishes_the_current_job_then_exits(resque, resque_worker, run_dir,
                                                           redis_client):
    worker = resque_worker("--queue", "default", "--interval", "0.1", env={"GRACEFUL_TERM": "1"})
    resque.enqueue(Sleeper, 0.6, "gt")
    resque.enqueue(Echo, "never")
    started(run_dir, "gt")
    worker.signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0
    assert ended(run_dir, "gt") and failures(redis_client) == []
    assert resque.size("default") == 1


@pytest.mark.parametrize("run_hooks", [True, False])
def test_run_at_exit_hooks_decides_whether_a_child_runs_atexit_handlers(resque, resque_worker,
                                                                        run_dir, run_hooks):
    resque.enqueue(AtExit, "x")
    env = {"RUN_AT_EXIT_HOOKS": "1"} if run_hooks else {}
    worker = resque_worker("--queue", "default", "--interval", "0", env=env, wait=False)
    assert worker.wait(timeout=30) == 0, worker.output()
    assert events(run_dir, "echo")
    assert bool(events(run_dir, "atexit")) is run_hooks


def test_usr2_pauses_and_cont_resumes(resque, resque_worker, run_dir):
    worker = resque_worker("--queue", "default", "--interval", "0.05")
    worker.signal(signal.SIGUSR2)
    wait_for(lambda: "USR2 received" in worker.output(), what="the pause")
    resque.enqueue(Echo, "held")
    time.sleep(0.5)  # ten poll intervals: a running worker would have taken it
    assert events(run_dir, "echo") == [] and resque.size("default") == 1
    worker.signal(signal.SIGCONT)
    wait_for(lambda: events(run_dir, "echo"), what="the job after CONT")


@full_title
def test_process_title_shows_the_state(resque, resque_worker, run_dir):
    worker = resque_worker("--queue", "default", "--interval", "0.05")
    wait_for(lambda: worker.title() == f"resque-{VERSION}: Waiting for default", what="idle title")
    resque.enqueue(Sleeper, 5, "title")
    started(run_dir, "title")
    wait_for(lambda: worker.title().startswith(f"resque-{VERSION}: Forked "), what="parent title")
    [child] = worker.children()
    from psutil import Process

    assert Process(child).cmdline()[0].startswith(f"resque-{VERSION}: Processing default since ")
    assert Process(child).cmdline()[0].endswith("[Sleeper]")


@full_title
def test_resque_procline_prefix_comes_first_in_the_title(resque_worker):
    worker = resque_worker("--queue", "default", "--interval", "0.05",
                           env={"RESQUE_PROCLINE_PREFIX": "snippets: "})
    wait_for(lambda: worker.title() == f"snippets: resque-{VERSION}: Waiting for default",
             what="prefixed idle title")


def test_without_setproctitle_the_kernel_name_is_set(monkeypatch):
    comm = Path("/proc/self/comm")
    original = comm.read_text().strip()
    monkeypatch.setattr(procline, "_setproctitle", None)
    try:
        procline.set_title("Waiting for default")
        assert comm.read_text().strip() == f"resque-{VERSION}: Waiting for default"[:15]
    finally:
        comm.write_text(original)
