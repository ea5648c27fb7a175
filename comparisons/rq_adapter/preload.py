"""Settings module for `rq worker -c comparisons.rq_adapter.preload`: import before forking.

The forking Worker runs every job in a freshly forked work horse. Whatever the worker process
has not imported, each horse imports again, job after job (pygments alone takes tens of ms).
RQ's performance notes advise importing the job's code in the worker before it starts; the
`rq worker` CLI imports its settings module at start-up, so this module does it: the job entry
point, the probe, and the workload named in QUEUEBENCH_WORKLOAD (what it imports at module
level; lexers pygments loads lazily per language are still loaded in each horse).
"""

from __future__ import annotations

import os

import comparisons.rq_adapter.jobs  # noqa: F401 - imported for its side effect
from workloads import registry

ENV_WORKLOAD = "QUEUEBENCH_WORKLOAD"

if os.environ.get(ENV_WORKLOAD):
    registry.get(os.environ[ENV_WORKLOAD])
