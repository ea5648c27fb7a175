"""The job class users write: `class PygmentsWorker(Worker)` with `perform(...)`.

    class HardWorker(Worker):
        sidekiq_options = {"queue": "critical", "retry": 5}

        def perform(self, name, count):
            ...

    HardWorker.perform_async("bob", 5)                  # push now
    HardWorker.perform_in(300, "bob", 5)                # or a timedelta
    HardWorker.set(queue="low").perform_async("x", 1)   # per-push options
    HardWorker.push_bulk([["a", 1], ["b", 2]])          # one LPUSH for many jobs

Options (sidekiq_options, merged down the class hierarchy): queue, retry (True = 25 retries,
N, False), dead (False = never to the dead set), backtrace (True or N lines), tags,
retry_queue. Override `sidekiq_retry_in(count, exc)` (seconds, "discard", "kill" or None for
the default formula) and `sidekiq_retries_exhausted(job, exc)`.

Each execution builds a fresh instance, so instance state never leaks between jobs; but the
threads of one process share everything else, so job code must be thread-safe.

Every subclass registers under its class name (what the payload's "class" says; Ruby-style
names, so a Ruby client can push to it). A name with dots is looked up as module.Class, but
only in a module this process already loaded (-r or an import of it): as Ruby's constantize
finds only loaded constants, a payload never makes a worker import anything.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, ClassVar

log = logging.getLogger("sidekiq_clone")

DEFAULT_OPTIONS: dict[str, Any] = {"retry": True, "queue": "default"}

WORKERS: dict[str, type[Worker]] = {}


class UnknownJobClass(NameError):
    """The payload names a class this process has not loaded."""

    def __init__(self, name: str) -> None:
        super().__init__(
            f"uninitialized constant {name}: unknown class, no worker class {name!r} is loaded in "
            "this process; restart the worker after adding it (a worker must be restarted after "
            "new job code is added, and load it with -r MODULE)."
        )
        self.class_name = name


class Worker:
    """Base class of every job. Subclasses define perform(*args) with JSON arguments."""

    sidekiq_options: ClassVar[dict[str, Any]] = {}
    sidekiq_class: ClassVar[str] = ""  # the name in payloads; defaults to the class name
    _options: ClassVar[dict[str, Any]] = dict(DEFAULT_OPTIONS)

    sidekiq_retry_jitter_unit: ClassVar[float] = 1.0  # seconds per unit of retry jitter

    def __init__(self) -> None:
        self.jid: str | None = None
        self.job: dict[str, Any] = {}  # the payload being executed (set by the processor)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        merged: dict[str, Any] = {}
        for base in reversed(cls.__mro__[1:]):
            merged.update(getattr(base, "_options", {}))
        merged.update(cls.__dict__.get("sidekiq_options", {}))
        cls._options = merged
        name = cls.__dict__.get("sidekiq_class") or cls.__name__
        cls.sidekiq_class = name
        previous = WORKERS.get(name)
        if previous is not None and previous.__module__ != cls.__module__:
            log.warning("worker class name %s registered twice (%s and %s); the last one wins",
                        name, previous.__module__, cls.__module__)
        WORKERS[name] = cls

    # -- the job ---------------------------------------------------------------------------

    def perform(self, *args: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define perform(*args)")

    def sidekiq_retry_in(self, count: int, exc: BaseException,
                         job: dict[str, Any] | None = None) -> float | str | None:
        """Seconds before retry `count`, or "discard" / "kill"; None = Sidekiq's formula.
        (The two-argument form, as in Sidekiq 6, works too.)"""
        return None

    def sidekiq_retries_exhausted(self, job: dict[str, Any], exc: BaseException) -> None:
        """Called once when the last retry failed, before the job goes to the dead set."""

    # -- options ---------------------------------------------------------------------------

    @classmethod
    def get_sidekiq_options(cls) -> dict[str, Any]:
        return dict(cls._options)

    # -- the client side -------------------------------------------------------------------

    @classmethod
    def set(cls, **options: Any) -> Setter:
        return Setter(cls, options)

    @classmethod
    def perform_async(cls, *args: Any) -> str | None:
        return Setter(cls, {}).perform_async(*args)

    @classmethod
    def perform_in(cls, interval: float | timedelta | datetime, *args: Any) -> str | None:
        return Setter(cls, {}).perform_in(interval, *args)

    perform_at = perform_in

    @classmethod
    def push_bulk(cls, args_list: list[list[Any]], batch_size: int = 1000) -> list[str]:
        return Setter(cls, {}).push_bulk(args_list, batch_size)


class Setter:
    """`Worker.set(queue=...)`: per-push options, chained into perform_async / perform_in."""

    def __init__(self, worker_class: type[Worker], options: dict[str, Any]) -> None:
        self.worker_class = worker_class
        self.options = dict(options)

    def set(self, **options: Any) -> Setter:
        return Setter(self.worker_class, {**self.options, **options})

    def _item(self, args: tuple[Any, ...] | list[Any]) -> dict[str, Any]:
        return {**self.options, "class": self.worker_class, "args": list(args)}

    def perform_async(self, *args: Any) -> str | None:
        from comparisons.sidekiq_clone.client import Client

        return Client().push(self._item(args))

    def perform_in(self, interval: float | timedelta | datetime, *args: Any) -> str | None:
        from comparisons.sidekiq_clone.client import Client

        return Client().push({**self._item(args), "at": at_time(interval)})

    perform_at = perform_in

    def push_bulk(self, args_list: list[list[Any]], batch_size: int = 1000) -> list[str]:
        from comparisons.sidekiq_clone.client import Client

        jids: list[str] = []
        for i in range(0, len(args_list), batch_size):
            item = {**self.options, "class": self.worker_class, "args": args_list[i:i + batch_size]}
            jids.extend(Client().push_bulk(item))
        return jids


def at_time(interval: float | timedelta | datetime) -> float:
    """perform_in / perform_at's argument -> epoch seconds. Below 1e9 means "from now"."""
    import time

    if isinstance(interval, timedelta):
        return time.time() + interval.total_seconds()
    if isinstance(interval, datetime):
        return interval.timestamp()
    value = float(interval)
    return time.time() + value if value < 1_000_000_000 else value


def constantize(name: str) -> type[Worker]:
    """The worker class a payload names; UnknownJobClass if this process has not loaded it.
    Never imports: a dotted name resolves only inside a module already in sys.modules."""
    cls = WORKERS.get(name) if isinstance(name, str) else None
    if cls is not None:
        return cls
    if not isinstance(name, str):
        raise UnknownJobClass(repr(name))
    if "." in name:
        module_name, _, attr = name.rpartition(".")
        module = sys.modules.get(module_name)
        found = getattr(module, attr, None) if module is not None else None
        if isinstance(found, type) and issubclass(found, Worker):
            return found
    raise UnknownJobClass(name)


def class_name(worker_class: type[Worker] | str) -> str:
    return worker_class if isinstance(worker_class, str) else worker_class.sidekiq_class


Callback = Callable[..., Any]
