"""Real Sidekiq 6.4.1 (Debian's ruby-sidekiq) behind the System contract (core/contract.py).

start() runs `sidekiq -r comparisons/sidekiq_ruby/jobs.rb -c N -t 25 -q high -q default -q low`,
as its users run it, once per config process, and returns when each has sent its first heartbeat
(its pid in the `processes` set). /usr/bin/sidekiq is a Ruby script started directly, no shell
between, so the pid the harness holds is the Ruby process itself: the crash scenario's SIGKILL
and the memory sampler reach real Sidekiq. Graceful stop = TERM, Sidekiq's own shutdown.

Jobs are QueuebenchWorker payloads (jobs.rb) pushed with the clone's client, which writes
Sidekiq's own payload and keys (tests/test_sidekiq_interop.py shows real Sidekiq running what it
pushes). A RetryPolicy becomes retry: N plus a "qb_retry" field that the job's sidekiq_retry_in
turns into delays, as in the clone; Sidekiq 6.4 takes whole seconds and adds its jitter (jobs.rb
says how). A job without a policy is pushed with retry: 0: a failure goes to the dead set at once.
The retry, dead and schedule sets are read with the clone's api, the same layout.

The job is Ruby, the workloads Python: the Ruby job runs noop, sleep and flaky (RUBY_WORKLOADS);
any other workload is refused with NotSupported before a worker starts or a job is pushed.

Configs: default (1 process x 10 threads, the stock logger: a start and a done line per job),
quiet (the same without the per-job lines, as the clone logs by default), c1, c4, p2 (2
processes x 10 threads), weighted (`-q high,5 -q default`). The clone's `reliable` is clone-only:
Sidekiq's reliable fetch is Sidekiq Pro. Every config polls the retry and schedule sets every
~1 s on average, the clone's POLL_INTERVAL.

Where Ruby or the gems are missing, importing this module still works, but the name the
registry loads, SidekiqRubySystem, is served by the module's __getattr__ only after an
availability check: without real Sidekiq it raises SystemUnavailable saying what to install,
which the registry passes on, so `queuebench list`, a run and its report show the system as
unavailable with the reason. (An ImportError would do it too, but the registry would then advise
installing the missing package "with pip".) The class itself is SidekiqRuby.
"""

from __future__ import annotations

import functools
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from comparisons.sidekiq_clone.client import Client
from comparisons.sidekiq_clone.layout_system import (
    POLL_INTERVAL,
    QUEUES,
    SHUTDOWN_TIMEOUT,
    SidekiqLayoutSystem,
    queue_names,
)
from comparisons.sidekiq_clone.middleware import Chain
from core.contract import JobSpec, SystemConfig, WorkerGroup
from core.errors import ConfigUnavailable, NotSupported, SystemUnavailable

JOBS_RB = Path(__file__).resolve().parent / "jobs.rb"
JOB_CLASS = "QueuebenchWorker"  # the class jobs.rb defines
ENTRY_POINT = "SidekiqRubySystem"  # what pyproject's queuebench.systems entry names
RUBY_WORKLOADS = frozenset({"noop", "sleep", "flaky"})  # what jobs.rb writes again in Ruby
INSTALL = "install ruby-sidekiq (apt-get install ruby-sidekiq)"
INSTALL_SQLITE = "install ruby-sqlite3 (apt-get install ruby-sqlite3)"  # flaky's attempt counts
VERSION_PREFIX = "6.4."  # jobs.rb speaks Sidekiq 6.4's API (Sidekiq.options, JobLogger)
PROBE_TIMEOUT = 60.0  # loading the gems takes well under a second; this is for a loaded machine

# Prints one line per gem: "<name> <version>" or "<name>-missing <why>".
_PROBE = """
%w[sidekiq sqlite3].each do |gem|
  require gem
  puts "#{gem} #{gem == "sidekiq" ? Sidekiq::VERSION : SQLite3::VERSION}"
rescue LoadError => e
  puts "#{gem}-missing #{e.message}"
end
"""


@functools.cache
def unavailable_reason() -> str | None:
    """None when real Sidekiq 6.4 can run here (ruby, the sidekiq command, the sidekiq and
    sqlite3 gems), else what is missing and how to install it. Checked once per process."""
    missing = [tool for tool in ("ruby", "sidekiq") if shutil.which(tool) is None]
    if missing:
        return f"{' and '.join(missing)} not found on PATH: {INSTALL}"
    try:
        probe = subprocess.run(["ruby", "-e", _PROBE], capture_output=True, text=True,
                               timeout=PROBE_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"ruby does not run ({exc}): {INSTALL}"
    found = dict(line.split(" ", 1) for line in probe.stdout.splitlines() if " " in line)
    if "sidekiq" not in found:
        why = found.get("sidekiq-missing") or probe.stderr.strip()[:200] or "no output"
        return f"the sidekiq gem does not load ({why}): {INSTALL}"
    if not found["sidekiq"].startswith(VERSION_PREFIX):
        return (f"found Sidekiq {found['sidekiq']}, but this system is Sidekiq "
                f"{VERSION_PREFIX}x (Debian bookworm's): {INSTALL}")
    if "sqlite3" not in found:
        why = found.get("sqlite3-missing") or "no output"
        return f"the sqlite3 gem does not load ({why}): {INSTALL_SQLITE}"
    return None


def _config(name: str, processes: int, concurrency: int, **options: Any) -> SystemConfig:
    return SystemConfig(name=name, processes=processes, concurrency=concurrency,
                        options={"queues": QUEUES, "poll_interval": POLL_INTERVAL,
                                 "job_log": "stock", **options})


class SidekiqRuby(SidekiqLayoutSystem):
    name = "sidekiq_ruby"
    order = 25  # just after the clone (20), its copy
    title = "Sidekiq 6.4.1 (real, Ruby)"
    requires = "ruby-sidekiq and ruby-sqlite3 (Debian packages)"
    configs = {
        "default": _config("default", 1, 10),
        "quiet": _config("quiet", 1, 10, job_log="quiet"),
        "c1": _config("c1", 1, 1),
        "c4": _config("c4", 1, 4),
        "p2": _config("p2", 2, 10),
        # -q high,5 -q default: each fetch shuffles [high x5, default] (high first 5 times in 6)
        "weighted": _config("weighted", 1, 10, queues=["high,5", "default"],
                            weights={"high": 5, "default": 1}),
    }
    supports = frozenset({"retries", "delay", "priority"})
    graceful_signal = signal.SIGTERM
    job_class = JOB_CLASS
    worker_label = "sidekiq (Ruby)"

    def __init__(self, redis_url: str, run_dir: Any, config: SystemConfig | str = "default"):
        super().__init__(redis_url, run_dir, config)
        self.client = Client(self.redis, middleware=Chain())  # no process-wide middleware

    @classmethod
    def check_available(cls) -> None:
        """Raise SystemUnavailable, naming what to install, where real Sidekiq cannot run."""
        reason = unavailable_reason()
        if reason:
            raise SystemUnavailable(f"system {cls.name!r} is unavailable: {reason}")

    @classmethod
    def check_config(cls, config: SystemConfig) -> None:
        reason = unavailable_reason()
        if reason:
            raise ConfigUnavailable(f"{cls.name} ({config.name}) cannot run here: {reason}")

    @classmethod
    def check_workload(cls, workload: str) -> None:
        """UnknownName for a workload that does not exist, NotSupported for one that exists
        only in Python."""
        if workload in RUBY_WORKLOADS:
            return
        from workloads import registry

        registry.get(workload)  # an unknown name lists the valid ones
        raise NotSupported(
            f"workload {workload!r} is Python only: {cls.name} runs its jobs in Ruby, where "
            f"{', '.join(sorted(RUBY_WORKLOADS))} are written again (highlight needs pygments)")

    # -- workers ---------------------------------------------------------------------------

    def argv(self) -> list[str]:
        argv = ["sidekiq", "-r", str(JOBS_RB), "-c", str(self.config.concurrency),
                "-t", str(SHUTDOWN_TIMEOUT)]
        for q in self.config.options.get("queues", QUEUES):
            argv += ["-q", str(q)]
        return argv

    def sidekiq_env(self) -> dict[str, str]:
        env = self.worker_env()
        env.pop("REDIS_PROVIDER", None)  # it would name another variable than REDIS_URL
        opts = self.config.options
        env.update(REDIS_URL=self.redis_url,
                   QUEUEBENCH_POLL_INTERVAL=str(opts.get("poll_interval", POLL_INTERVAL)),
                   QUEUEBENCH_JOB_LOG=str(opts.get("job_log", "stock")))
        return env

    def start(self, workload: str) -> WorkerGroup:
        self.check_workload(workload)  # refused before any worker starts
        self.check_config(self.config)
        procs = [self.spawn(self.argv(), f"sidekiq_ruby-{i}", self.sidekiq_env())
                 for i in range(self.config.processes)]
        return self.await_heartbeats(procs)

    # -- jobs ------------------------------------------------------------------------------

    def _item(self, job: JobSpec) -> dict[str, Any]:
        self.check_workload(job.workload)
        if job.queue not in queue_names(self.config):
            raise NotSupported(f"queue {job.queue!r} is not worked by {self.name} config "
                               f"{self.config.name!r}; its queues: "
                               f"{', '.join(queue_names(self.config))}")
        return super()._item(job)



def __getattr__(attr: str) -> type[SidekiqRuby]:
    """SidekiqRubySystem, the name the registry loads: the class where real Sidekiq can run,
    else SystemUnavailable with what to install (see the module docstring)."""
    if attr == ENTRY_POINT:
        SidekiqRuby.check_available()
        return SidekiqRuby
    raise AttributeError(f"module {__name__!r} has no attribute {attr!r}")
