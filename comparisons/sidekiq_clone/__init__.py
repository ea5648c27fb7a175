"""A Sidekiq clone in Python, wire-compatible with Sidekiq's Redis layout; read README.md.

    from comparisons.sidekiq_clone import Worker

    class HardWorker(Worker):
        sidekiq_options = {"queue": "default", "retry": 5}
        def perform(self, name, count): ...

    HardWorker.perform_async("bob", 5)
"""

from comparisons.sidekiq_clone.client import Client, InvalidJob, push, push_bulk
from comparisons.sidekiq_clone.connection import configure
from comparisons.sidekiq_clone.worker import UnknownJobClass, Worker

__all__ = ["Client", "InvalidJob", "UnknownJobClass", "Worker", "configure", "push", "push_bulk"]
