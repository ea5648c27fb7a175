"""A stand-alone RQ scheduler: `python -m comparisons.rq_adapter.scheduler URL QUEUE...`.

`rq worker --with-scheduler` forks exactly this (rq.scheduler.RQScheduler) next to a worker.
The adapter starts it on its own only when a delayed or retried job arrives after the workers
were started without one, so runs that never schedule anything carry no scheduler process.
SIGTERM / SIGINT stop it after its current pass (RQScheduler's own handlers).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

from redis import Redis
from rq.scheduler import RQScheduler


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m comparisons.rq_adapter.scheduler")
    parser.add_argument("url", help="Redis URL")
    parser.add_argument("queues", nargs="+", help="queue names whose scheduled jobs to move")
    parser.add_argument("--interval", type=int, default=1, help="whole seconds between passes")
    args = parser.parse_args(argv)
    stop: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: stop.append(signum))
    scheduler = RQScheduler(args.queues, connection=Redis.from_url(args.url), interval=args.interval)
    while not scheduler.acquire_locks():  # another scheduler holds the lock: wait for it to go
        if stop:
            return 0
        time.sleep(args.interval)
    if stop:
        scheduler.release_locks()
    else:
        scheduler.work()  # installs RQScheduler's own SIGTERM / SIGINT handlers
    return 0


if __name__ == "__main__":
    sys.exit(main())
