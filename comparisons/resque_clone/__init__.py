"""A Resque in Python: Resque 2.x's Redis layout, its polling worker that forks per job, its
failed list, hooks, delayed jobs (resque-scheduler) and the retry plugin (resque-retry).

    from comparisons.resque_clone import Resque
    Resque("redis://127.0.0.1:6380/0").enqueue(Archive, 44, "masterbrew")

    python -m comparisons.resque_clone work --queue '*' --interval 5 --require myapp.jobs

Read README.md beside this file for the design as a lesson.
"""

from comparisons.resque_clone.client import Resque
from comparisons.resque_clone.connection import Connection
from comparisons.resque_clone.hooks import DontFail, DontPerform
from comparisons.resque_clone.keys import NonJsonArgument
from comparisons.resque_clone.registry import JobClassNotFound, register

__all__ = ["Connection", "DontFail", "DontPerform", "JobClassNotFound", "NonJsonArgument", "Resque", "register"]
