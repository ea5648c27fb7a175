"""`queuebench testnet up N | down`: the namespace hosts of harness/testnet.py from the shell.

`up` starts the Redis under test and the control Redis on the bridge's address, N namespace
hosts each running an agent, prints what to pass to `queuebench run`, and stays in the
foreground; Ctrl-C, SIGTERM or SIGHUP tear everything down (no namespace, veth or process left).
`down` removes what a killed testnet left.
"""

from __future__ import annotations

import argparse
import signal
import threading
from typing import Any

from core.errors import UsageError
from core.redis_server import EmbeddedRedis, RedisServerError
from harness import testnet
from harness.remote import Agents


def run(args: argparse.Namespace) -> int:
    if args.action == "down":
        removed = testnet.down()
        print(f"removed: {', '.join(removed) or 'nothing'}", flush=True)
        return 0
    reason = testnet.problem()
    if reason:
        print(f"error: cannot build a testnet: {reason}", flush=True)
        return 2
    if not 1 <= args.hosts <= 50:
        print(f"error: testnet up takes 1 to 50 hosts (got {args.hosts})", flush=True)
        return 2
    stop = threading.Event()
    old: dict[int, Any] = {s: signal.signal(s, lambda *_: stop.set())
                           for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    net = testnet.Testnet(args.hosts)
    under_test = EmbeddedRedis(host=testnet.BRIDGE_ADDRESS)
    control = EmbeddedRedis(host=testnet.BRIDGE_ADDRESS)
    try:
        net.up()
        under_test.start()
        control.start()
        net.start_agents(control.url)
        agents = Agents(control.url, net.names())
        try:
            agents.wait_ready(timeout=60)
        finally:
            agents.close()
        print(f"testnet ready: hosts {','.join(net.names())}", flush=True)
        print(f"  queuebench run --redis-url {under_test.url} --control {control.url} "
              f"--agents {','.join(net.names())}", flush=True)
        print("Ctrl-C tears it down.", flush=True)
        while not stop.wait(0.5):
            dead = [h for h, p in net.agents.items() if p.poll() is not None]
            if dead:
                print(f"error: agent(s) exited: {', '.join(dead)}", flush=True)
                return 1
        return 0
    except (RedisServerError, RuntimeError, UsageError) as exc:
        print(f"error: {exc}", flush=True)
        return 1
    finally:
        for s in old:
            signal.signal(s, signal.SIG_IGN)
        try:
            net.stop()
            control.stop()
            under_test.stop()
            print("testnet down.", flush=True)
        finally:
            for s, h in old.items():
                signal.signal(s, h)
