"""What every results file records about where and with what it was measured: host, CPU model,
cores, memory, OS, Python, every installed package and its version, the Redis version, the
command line (pyperf's rule: a figure without its metadata cannot be compared)."""

from __future__ import annotations

import os
import platform
import socket
import sys
from importlib import metadata as importlib_metadata
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def packages() -> dict[str, str]:
    """Every installed distribution and its version."""
    out: dict[str, str] = {}
    for dist in importlib_metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            out[name] = dist.version
    return dict(sorted(out.items(), key=lambda kv: kv[0].lower()))


def redis_version(url: str) -> str:
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        return str(client.info("server").get("redis_version", "unknown"))
    except redis.RedisError as exc:
        return f"unknown ({exc})"
    finally:
        client.close()


def collect(redis_url: str, embedded: bool, argv: list[str] | None = None) -> dict[str, Any]:
    import psutil

    return {
        "host": socket.gethostname(),
        "cpu_model": cpu_model(),
        "cores": os.cpu_count() or 1,
        "memory_bytes": int(psutil.virtual_memory().total),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        "python_implementation": platform.python_implementation(),
        "packages": packages(),
        "redis_version": redis_version(redis_url),
        "redis": "embedded" if embedded else "external",
        "argv": list(sys.argv if argv is None else argv),
        "loadavg": [round(x, 2) for x in os.getloadavg()],  # 1, 5, 15 min at the start; each cell has its own
    }
