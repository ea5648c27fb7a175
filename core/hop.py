"""The bare Redis hop: what one LPUSH -> BRPOP costs on a given server, with nothing of a queue
around it. The floor scenario and the clones' own benches measure it with this consumer:

    python -m core.hop REDIS_URL KEY COUNT OUTFILE

The producer LPUSHes its planned time (ns); the consumer BRPOPs, stamps the arrival and, at the
end, writes one record per item in the probe's shape ({"job", "planned", "start", "end",
"outcome"}), so the same latency code reads it.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import redis

KEY = "queuebench:floor"
POP_TIMEOUT_S = 30  # an idle producer this long means the run is over or broken


def consume(url: str, key: str, count: int, out: Path) -> None:
    """BRPOP `count` items, stamping each arrival; write {"planned","start"} lines at the end."""
    client = redis.Redis.from_url(url)
    lines: list[str] = []
    for _ in range(count):
        item = client.brpop([key], timeout=POP_TIMEOUT_S)
        start = time.time_ns()
        if item is None:
            break
        lines.append(f'{{"job":"{len(lines)}","planned":{int(item[1])},"start":{start},'
                     f'"end":{start},"outcome":"ok"}}\n')
    out.write_text("".join(lines))


if __name__ == "__main__":
    consume(sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4]))
