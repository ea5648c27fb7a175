"""One taskiq worker or scheduler process on the stream, for the adapter to spawn.

    python -m comparisons.streams_adapter.worker work --max-async-tasks 10 ...
    python -m comparisons.streams_adapter.worker scheduler

`work` runs taskiq's own start_listen (the function each child of `taskiq worker --workers N`
runs) in this process, so a SIGKILL of the process the harness started kills the consumer that
holds the jobs (with `taskiq worker` it would kill only the process manager). `scheduler` runs
`taskiq scheduler` with a one-second update interval (its default re-reads schedules once a
minute). Both refuse to start without QUEUEBENCH_STREAMS_REDIS.
"""

from __future__ import annotations

import asyncio
import sys

from taskiq.cli.scheduler.args import SchedulerArgs
from taskiq.cli.scheduler.run import run_scheduler
from taskiq.cli.worker.args import WorkerArgs
from taskiq.cli.worker.run import start_listen

from comparisons.streams_adapter.app import require_redis_url

APP = "comparisons.streams_adapter.app"


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in ("work", "scheduler"):
        print("usage: python -m comparisons.streams_adapter.worker work|scheduler [taskiq args]",
              file=sys.stderr)
        return 2
    require_redis_url()
    if argv[0] == "work":
        start_listen(WorkerArgs.from_cli([f"{APP}:broker", *argv[1:]]))
    else:
        asyncio.run(run_scheduler(SchedulerArgs.from_cli(
            [f"{APP}:scheduler", "--update-interval", "1", *argv[1:]])))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
