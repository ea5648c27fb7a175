"""One taskiq worker or scheduler process on the stream, for the adapter to spawn.

    python -m comparisons.streams_adapter.worker work --concurrency 10
    python -m comparisons.streams_adapter.worker scheduler

`work` runs taskiq's own Receiver on the app's broker in this process (what each child of
`taskiq worker --workers N` runs), so a SIGKILL of the process the harness started kills the
consumer that holds the jobs (with `taskiq worker` it would hit only the process manager). It is
not taskiq's start_listen: that one sets its stop flag from a plain signal.signal handler, which
does not wake the event loop, and an idle worker on a quiet stream then ignored SIGTERM; here
the loop's own add_signal_handler stops it at once (running tasks finish, then XACK).
`scheduler` runs `taskiq scheduler` with a one-second update interval (its default re-reads
schedules once a minute). Both refuse to start without QUEUEBENCH_STREAMS_REDIS.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from concurrent.futures import ThreadPoolExecutor

from taskiq.cli.scheduler.args import SchedulerArgs
from taskiq.cli.scheduler.run import run_scheduler
from taskiq.cli.worker.run import shutdown_broker
from taskiq.receiver import Receiver

from comparisons.streams_adapter.app import require_redis_url

APP = "comparisons.streams_adapter.app"
SHUTDOWN_TIMEOUT_S = 10.0


async def work(concurrency: int) -> None:
    from comparisons.streams_adapter import app

    app.broker.is_worker_process = True
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        receiver = Receiver(app.broker, executor=pool, max_async_tasks=concurrency)
        try:
            await receiver.listen(stop)
        finally:
            await shutdown_broker(app.broker, SHUTDOWN_TIMEOUT_S)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m comparisons.streams_adapter.worker")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("work").add_argument("--concurrency", type=int, default=10)
    sub.add_parser("scheduler")
    args = parser.parse_args(argv)
    require_redis_url()
    if args.command == "work":
        asyncio.run(work(args.concurrency))
    else:
        asyncio.run(run_scheduler(SchedulerArgs.from_cli(
            [f"{APP}:scheduler", "--update-interval", "1", "--log-level", "WARNING"])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
