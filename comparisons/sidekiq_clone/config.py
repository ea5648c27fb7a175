"""The server's settings: Sidekiq's CLI flags, optionally read from a YAML or JSON file (-C).

A file looks like Sidekiq's sidekiq.yml (keys with or without the leading colon):

    :concurrency: 10
    :timeout: 25
    :queues:
      - [high, 5]
      - default

Flags given on the command line win over the file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from comparisons.sidekiq_clone.fetch import parse_queues


class ConfigError(ValueError):
    """A bad flag value or config file."""


@dataclass
class Config:
    queues: list[str] = field(default_factory=lambda: ["default"])  # expanded by weight
    strict: bool = True
    concurrency: int = 10  # Sidekiq 6.x's default
    timeout: float = 25.0  # seconds TERM waits for running jobs
    require: list[str] = field(default_factory=list)
    tag: str = ""
    labels: list[str] = field(default_factory=list)
    reliable: bool = False
    poll_interval_average: float | None = None  # None: 5 s x number of processes
    beat_interval: float = 5.0  # heartbeat period (Sidekiq's BEAT_PAUSE)
    max_retries: int = 25
    redis_url: str | None = None
    verbose: bool = False
    logfile: str | None = None
    pidfile: str | None = None

    def check(self) -> Config:
        if self.concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, not {self.concurrency}")
        if self.timeout < 0:
            raise ConfigError(f"timeout must not be negative, not {self.timeout}")
        if not self.queues:
            raise ConfigError("no queues to work on")
        if self.poll_interval_average is not None and self.poll_interval_average <= 0:
            raise ConfigError("poll interval must be positive")
        if self.beat_interval <= 0:
            raise ConfigError("beat interval must be positive")
        return self

    def queue_specs(self) -> list[str]:
        """The queues with their weights again, de-duplicated (for logs and the heartbeat)."""
        return list(dict.fromkeys(self.queues))


def queue_spec(entry: Any) -> str:
    """A queue entry from a file: "name", "name,5" or ["name", 5]."""
    if isinstance(entry, list) and 1 <= len(entry) <= 2:
        return ",".join(str(x) for x in entry)
    if isinstance(entry, str):
        return entry
    raise ConfigError(f"a queue entry must be a name or [name, weight], not {entry!r}")


def load_file(path: str | Path) -> dict[str, Any]:
    """Read a YAML (.yml/.yaml) or JSON config file into Config field names."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist")
    text = path.read_text()
    if path.suffix in (".yml", ".yaml"):
        try:
            import yaml
        except ImportError:
            raise ConfigError("a YAML config file needs PyYAML (pip install pyyaml); "
                              "or write the file as JSON") from None
        try:
            data = yaml.safe_load(text) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    else:
        try:
            data = json.loads(text or "{}")
        except json.JSONDecodeError as exc:
            raise ConfigError(f"config file {path} is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings")
    known = {f.name for f in fields(Config)}
    out: dict[str, Any] = {}
    for key, value in data.items():
        name = str(key).lstrip(":").replace("-", "_")
        if name == "queues":
            specs = [queue_spec(e) for e in (value or [])]
            try:
                out["queues"], out["strict"] = parse_queues(specs)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
        elif name in known:
            out[name] = value
        else:
            raise ConfigError(f"config file {path}: unknown setting {key!r}; "
                              f"known: {', '.join(sorted(known))}")
    return out
