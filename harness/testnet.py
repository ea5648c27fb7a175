"""Several "hosts" on one machine: network namespaces on a bridge, each running an agent.

    queuebench testnet up N     N namespaces qbn-h1..qbn-hN on the bridge qbn-br0 (10.231.0.0/24),
                                each with its own address and an agent (`queuebench agent`); the
                                Redis under test and the control Redis listen on the bridge's
                                address in this namespace. Runs in the foreground; Ctrl-C (or
                                SIGTERM) tears everything down.
    queuebench testnet down     remove whatever a testnet left: processes in its namespaces, the
                                namespaces (and so their veths), the bridge.

It needs root (or CAP_NET_ADMIN) and iproute2's `ip`. `problem()` says why it cannot run here.
This is how the tests and CI measure workers "on several hosts" without several machines: the
traffic crosses veths and a bridge, so every Redis round trip is a real TCP round trip between
network stacks (on one CPU set, so it says nothing about what more cores would buy).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

from core.procs import die_with_parent

PREFIX = "qbn"
BRIDGE = f"{PREFIX}-br0"
SUBNET = "10.231.0"
BRIDGE_ADDRESS = f"{SUBNET}.1"
ENV_CLOCK_SHIFT = "QUEUEBENCH_CLOCK_SHIFT_NS"  # harness.agent adds it to its clock (tests)


def problem() -> str | None:
    """Why namespaces cannot be made here, or None."""
    if shutil.which("ip") is None:
        return "iproute2's `ip` is not installed (apt-get install iproute2)"
    if os.geteuid() != 0:
        return "making network namespaces needs root (CAP_NET_ADMIN)"
    return None


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `ip ARGS`; a failure raises with ip's own message."""
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done


def namespaces() -> list[str]:
    """The testnet's namespaces that exist now."""
    out = ip("netns", "list", check=False).stdout
    return [line.split()[0] for line in out.splitlines() if line.startswith(f"{PREFIX}-")]


def links() -> list[str]:
    """The testnet's links (bridge, veths) in this namespace."""
    out = ip("-o", "link", "show", check=False).stdout
    names = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if ":" in line]
    return [n for n in names if n.startswith(f"{PREFIX}-")]


def host_name(i: int) -> str:
    return f"h{i}"


def namespace(host: str) -> str:
    return f"{PREFIX}-{host}"


def address(i: int) -> str:
    return f"{SUBNET}.{10 + i}"


def ns_pids(ns: str) -> list[int]:
    out = ip("netns", "pids", ns, check=False).stdout
    return [int(p) for p in out.split() if p.isdigit()]


def down() -> list[str]:
    """Remove every trace of a testnet (idempotent); returns what it removed."""
    removed = []
    for ns in namespaces():
        pids = ns_pids(ns)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        psutil.wait_procs([psutil.Process(p) for p in pids if psutil.pid_exists(p)], timeout=5)
        ip("netns", "delete", ns, check=False)
        removed.append(ns)
    for link in links():
        ip("link", "delete", link, check=False)
        removed.append(link)
    return removed


@dataclass
class Testnet:
    """N namespace hosts on a bridge; agents started with start_agents(); stop() tears down."""

    hosts: int
    agents: dict[str, subprocess.Popen[Any]] = field(default_factory=dict)
    logs: Path | None = None

    def names(self) -> list[str]:
        return [host_name(i) for i in range(1, self.hosts + 1)]

    def up(self) -> Testnet:
        reason = problem()
        if reason:
            raise RuntimeError(f"cannot build a testnet: {reason}")
        down()  # leftovers of an earlier, killed testnet
        try:
            ip("link", "add", BRIDGE, "type", "bridge")
            ip("addr", "add", f"{BRIDGE_ADDRESS}/24", "dev", BRIDGE)
            ip("link", "set", BRIDGE, "up")
            for i in range(1, self.hosts + 1):
                ns, veth = namespace(host_name(i)), f"{PREFIX}-v{i}"
                ip("netns", "add", ns)
                ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
                ip("link", "set", veth, "master", BRIDGE, "up")
                ip("-n", ns, "addr", "add", f"{address(i)}/24", "dev", "eth0")
                ip("-n", ns, "link", "set", "eth0", "up")
                ip("-n", ns, "link", "set", "lo", "up")
        except BaseException:
            down()
            raise
        return self

    def start_agents(self, control_url: str, shifts: Mapping[str, int] | None = None,
                     logs: Path | None = None) -> None:
        """One `queuebench agent` in each namespace, dying with this process."""
        self.logs = logs
        for host in self.names():
            env = dict(os.environ)
            env.pop("REDIS_URL", None)
            env["PYTHONUNBUFFERED"] = "1"
            if shifts and host in shifts:
                env[ENV_CLOCK_SHIFT] = str(shifts[host])
            argv = ["ip", "netns", "exec", namespace(host), sys.executable, "-m", "harness",
                    "agent", "--control", control_url, "--name", host]
            out: Any = subprocess.DEVNULL
            if logs is not None:
                logs.mkdir(parents=True, exist_ok=True)
                out = open(logs / f"agent-{host}.log", "ab")  # noqa: SIM115 - owned by the child
            try:
                self.agents[host] = subprocess.Popen(
                    argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    preexec_fn=die_with_parent, cwd=str(Path(__file__).resolve().parent.parent))
            finally:
                if out is not subprocess.DEVNULL:
                    out.close()

    def stop(self) -> None:
        """Agents asked to stop (their worker groups go with them), then everything removed."""
        for proc in self.agents.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 10
        for proc in self.agents.values():
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.agents.clear()
        down()

    def __enter__(self) -> Testnet:
        return self.up()

    def __exit__(self, *exc: object) -> None:
        self.stop()
