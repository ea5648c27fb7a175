"""Workers on several hosts: agents in network namespaces on a bridge, driven through Celery.

The namespace tests need root and iproute2: without them they skip with the reason, and under
CI=true they fail. Host h2's clock is shifted by SHIFT_NS (the agent adds it to its clock and to
the record times it hands back, as a host whose clock is off would), so the offset estimate and
the latency correction are checked against a known error.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from system_helpers import needs, wait_for

from core import registry
from core.contract import JobSpec
from core.redis_server import EmbeddedRedis, claim_database
from harness import profiles, remote, runner, testnet

ROOT = Path(__file__).resolve().parent.parent
SHIFT_NS = 3_000_000_000  # h2's clock runs 3 s ahead
JOBS = 30


def _no_testnet_left() -> list[str]:
    """Namespaces, links and processes of a testnet (agents, Redis on the bridge) still there."""
    left = testnet.namespaces() + testnet.links()
    for proc in psutil.process_iter(["pid", "cmdline"]):
        line = " ".join(proc.info["cmdline"] or [])
        if "harness agent --control" in line or testnet.BRIDGE_ADDRESS in line:
            left.append(f"pid {proc.pid}: {line}")
    return left


# -- the coordinator's arithmetic (no namespaces needed) -------------------------------------


def test_clock_offset_keeps_the_round_trip_with_the_smallest_delay() -> None:
    coordinator = iter([0, 100, 1000, 1010, 2000, 2300])  # round trips of 100, 10, 300 ns
    agent = iter([5050, 6005, 7150])  # the agent's clock runs 5000 ns ahead
    est = remote.estimate_offset(lambda: next(agent), rounds=3, now=lambda: next(coordinator))
    assert (est.offset_ns, est.rtt_ns, est.uncertainty_ns) == (5000, 10, 5)


def test_a_clock_estimate_needs_a_round_trip() -> None:
    with pytest.raises(ValueError, match="at least 1 round trip"):
        remote.estimate_offset(lambda: 0, rounds=0)


def test_placement_spreads_worker_units_round_robin() -> None:
    assert remote.place(5, ["h1", "h2", "h3"]) == {"h1": 2, "h2": 2, "h3": 1}
    assert remote.place(1, ["h1", "h2"]) == {"h1": 1}


def test_placement_refuses_no_agents_or_no_units() -> None:
    with pytest.raises(ValueError, match="at least one agent"):
        remote.place(2, [])
    with pytest.raises(ValueError, match="at least one worker unit"):
        remote.place(0, ["h1"])


def test_correction_moves_start_and_end_onto_the_coordinator_clock() -> None:
    (fixed,) = remote.correct([{"planned": 10, "start": 1_000_050, "end": 1_000_080}], 1_000_000)
    assert (fixed["planned"], fixed["start"], fixed["end"]) == (10, 50, 80)


def test_a_cell_is_flagged_when_clock_uncertainty_is_large_against_its_p50() -> None:
    assert remote.flagged(2_000_000, [5_000_000, 6_000_000, 7_000_000])
    assert not remote.flagged(100_000, [5_000_000, 6_000_000, 7_000_000])


def test_agent_refuses_a_bad_name_with_a_clear_error() -> None:
    done = subprocess.run([sys.executable, "-m", "harness", "agent", "--control",
                           "redis://127.0.0.1:1/0", "--name", "a b"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert "agent name must be" in done.stdout


# -- namespace hosts ------------------------------------------------------------------------


def _need_namespaces() -> None:
    needs(testnet.problem(), "scale-out tests need network namespaces")


def test_testnet_up_leaves_nothing_after_ctrl_c() -> None:
    _need_namespaces()
    proc = subprocess.Popen([sys.executable, "-m", "harness", "testnet", "up", "2"], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        lines = []
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith(("testnet ready", "error")):
                break
        assert lines and lines[-1].startswith("testnet ready"), "".join(lines)
        assert testnet.namespaces() == ["qbn-h1", "qbn-h2"]
        assert len(_no_testnet_left()) >= 2 + 3 + 4  # namespaces, bridge + veths, agents + Redis
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0, out
        assert "testnet down." in out
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert _no_testnet_left() == []


class Net:
    def __init__(self, under_test: EmbeddedRedis, control: EmbeddedRedis,
                 agents: remote.Agents) -> None:
        self.under_test = under_test
        self.control = control
        self.agents = agents


@pytest.fixture(scope="module")
def net(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Net]:
    _need_namespaces()
    logs = tmp_path_factory.mktemp("agents")
    hosts = testnet.Testnet(2)
    under_test = EmbeddedRedis(host=testnet.BRIDGE_ADDRESS)
    control = EmbeddedRedis(host=testnet.BRIDGE_ADDRESS)
    agents = None
    try:
        hosts.up()
        under_test.start()
        control.start()
        hosts.start_agents(control.url, shifts={"h2": SHIFT_NS}, logs=logs)
        agents = remote.Agents(control.url, hosts.names(), timeout=60)
        agents.wait_ready(timeout=60)
        agents.estimate_clocks()
        yield Net(under_test, control, agents)
    finally:
        if agents is not None:
            agents.close()
        hosts.stop()
        control.stop()
        under_test.stop()
    assert _no_testnet_left() == []


def test_each_agent_clock_offset_is_estimated_within_its_uncertainty(net: Net) -> None:
    clocks = net.agents.clocks
    slack = 20_000_000  # a loaded machine: the round trip need not be symmetric
    assert abs(clocks["h1"].offset_ns) <= clocks["h1"].uncertainty_ns + slack
    assert abs(clocks["h2"].offset_ns - SHIFT_NS) <= clocks["h2"].uncertainty_ns + slack
    assert set(net.agents.describe()["clocks"]) == {"h1", "h2"}


def test_a_cell_across_two_hosts_hands_back_corrected_records(net: Net, tmp_path: Path) -> None:
    url = net.under_test.url
    claim_database(url)
    placement = net.agents.start("cell-1", "rq", "simple", 2, url, "sleep")
    assert placement == {"h1": 1, "h2": 1}
    system = registry.system("rq")(url, tmp_path, "simple")
    try:
        ids = []
        for _ in range(JOBS):
            job = JobSpec(JobSpec.new_id(), "sleep", [20])
            system.enqueue(job)
            ids.append(job.job_id)
            time.sleep(0.005)
        wait_for(lambda: system.pending() == 0, timeout=30, what="the queue to drain")
        time.sleep(0.3)  # the last jobs finish
    finally:
        got, memory = net.agents.stop("cell-1", placement)
        system.close()
    assert sorted(r["job"] for r in got if r["outcome"] == "ok") == sorted(ids)
    by_host = {h: [r for r in got if r["host"] == h] for h in placement}
    assert all(by_host.values()), {h: len(rs) for h, rs in by_host.items()}
    assert all(memory[h] for h in placement)
    for record in got:  # on the coordinator's clock: no job starts 3 s late or before planned
        latency = record["start"] - record["planned"]
        assert -50_000_000 < latency < 2_000_000_000, record
        assert record["end"] >= record["start"]


def test_an_agent_says_which_cell_it_does_not_run(net: Net) -> None:
    with pytest.raises(Exception, match="no cell 'nothing' runs on agent h1"):
        net.agents.call("h1", "stop", "nothing", True, timeout=30)


def test_an_agent_names_an_unknown_system(net: Net) -> None:
    with pytest.raises(Exception, match="no_such_system"):
        net.agents.call("h1", "start", "cell-x", "no_such_system", "default", 1,
                        net.under_test.url, "noop", timeout=30)


def test_run_with_agents_records_placement_offsets_and_redis_cpu(net: Net, tmp_path: Path) -> None:
    options = runner.RunOptions(profile=profiles.get("quick"), systems=["resque_clone"],
                                scenarios=["across_hosts"], out=tmp_path,
                                redis_url=net.under_test.url, agents=["h1", "h2"],
                                control_url=net.control.url, build_report=False)
    run, _ = runner.execute(options)
    assert set(run.metadata["agents"]["clocks"]) == {"h1", "h2"}
    cells = {c.params["hosts"]: c for c in run.cells}
    assert cells[3].status == "unsupported" and "2 agents given" in cells[3].reason
    for hosts in (1, 2):
        cell = cells[hosts]
        assert cell.status == "ok", cell.reason
        assert list(cell.metrics["placement"]) == ["h1", "h2"][:hosts]
        assert sum(cell.metrics["jobs_per_host"].values()) >= cell.params["n"]
        assert cell.metrics["throughput_per_s"] > 0
        assert cell.metrics["redis_cpu"] >= 0 and cell.metrics["redis_ops_per_s"] > 0


def test_agents_without_a_control_broker_are_refused(tmp_path: Path) -> None:
    options = runner.RunOptions(profile=profiles.get("quick"), scenarios=["across_hosts"],
                                out=tmp_path, agents=["h1"])
    with pytest.raises(runner.UsageError, match="--agents needs --control"):
        runner.plan(options)


def test_a_profile_may_name_the_agents_and_needs_their_control_broker_too(tmp_path: Path) -> None:
    profile = dataclasses.replace(profiles.get("quick"), agents=("h1", "h2"))
    options = runner.RunOptions(profile=profile, scenarios=["across_hosts"], out=tmp_path)
    assert options.hosts == ["h1", "h2"]
    with pytest.raises(runner.UsageError, match="--agents needs --control"):
        runner.plan(options)


def test_an_agent_that_does_not_answer_is_named(redis_url: str) -> None:
    agents = remote.Agents(redis_url, ["nobody"])
    try:
        with pytest.raises(runner.UsageError, match="agent 'nobody' did not answer"):
            agents.wait_ready(timeout=2)
    finally:
        agents.close()


def test_across_hosts_without_agents_is_unsupported_with_the_reason(tmp_path: Path) -> None:
    options = runner.RunOptions(profile=profiles.get("quick"), systems=["resque_clone"],
                                scenarios=["across_hosts"], out=tmp_path, build_report=False)
    run, _ = runner.execute(options)
    assert {c.status for c in run.cells} == {"unsupported"}
    assert all("needs agents" in c.reason for c in run.cells)
    assert not list(tmp_path.glob("*/work/*"))  # nothing started, nothing left


@pytest.mark.skipif(os.geteuid() == 0, reason="checks the message a non-root user sees")
def test_testnet_up_without_root_says_why() -> None:
    done = subprocess.run([sys.executable, "-m", "harness", "testnet", "up", "1"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 2
    assert "cannot build a testnet" in done.stdout
