"""The bare Redis hop: what LPUSH -> BRPOP costs on a given server with nothing of a queue around
it. The floor scenario measures it with this consumer (and the clones' own benches too):

    python -m core.hop REDIS_URL KEY OUTFILE [--count N] [--go GO_KEY]

A floor must be at least as lean as the leanest fetch path of any system measured against it,
or a queue could seem to beat Redis itself by a client-library shortcut. So the consumer holds
one connection of its own and sends a BRPOP encoded once (what the Sidekiq clone's fetch does),
stamps the arrival, keeps the stamp in memory, and writes its records only at the end, in the
probe's shape ({"job", "planned", "start", "end", "outcome"}) so the same latency code reads them.

An item is "<planned ns>" or "<planned ns>:<pushed ns>" (the producer's stamp just before its
LPUSH, so a hop can be timed from the push as well as from the plan). The consumer stops after
`count` items, on a STOP item (one per consumer, pushed after the work, for a drain shared by N
consumers), or after POP_TIMEOUT_S with nothing to pop. With --go it first blocks on GO_KEY, so
N consumers can be started, seen blocked, and released together onto a list filled meanwhile.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import redis

KEY = "queuebench:floor"
GO_KEY = "queuebench:floor:go"
STOP = b"stop"
POP_TIMEOUT_S = 30  # an idle producer this long means the run is over or broken


def consume(url: str, key: str, out: Path, count: int | None = None,
            go_key: str | None = None) -> int:
    """Pop until `count` items, a STOP item or a silent POP_TIMEOUT_S; write the records to
    `out`; return how many items were popped."""
    client = redis.Redis.from_url(url)
    conn = client.connection_pool.get_connection()
    try:
        if go_key:
            conn.send_command("BRPOP", go_key, POP_TIMEOUT_S)
            conn.read_response()
        packed = conn.pack_command("BRPOP", key, POP_TIMEOUT_S)
        stamps: list[tuple[bytes, int]] = []
        while count is None or len(stamps) < count:
            conn.send_packed_command(packed, check_health=False)
            reply = conn.read_response()
            start = time.time_ns()
            if reply is None or reply[1] == STOP:
                break
            stamps.append((reply[1], start))
    finally:
        client.connection_pool.release(conn)
        client.close()
    lines = []
    for i, (item, start) in enumerate(stamps):
        planned, _, pushed = item.decode().partition(":")
        extra = f',"pushed":{int(pushed)}' if pushed else ""
        lines.append(f'{{"job":"{i}","planned":{int(planned)}{extra},"start":{start},'
                     f'"end":{start},"outcome":"ok"}}\n')
    out.write_text("".join(lines))
    return len(stamps)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m core.hop", description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("key")
    parser.add_argument("out", type=Path)
    parser.add_argument("--count", type=int, default=None)
    parser.add_argument("--go", default=None, metavar="GO_KEY")
    args = parser.parse_args(argv)
    consume(args.url, args.key, args.out, args.count, args.go)


if __name__ == "__main__":
    main()
