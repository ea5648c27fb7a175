"""RQ (the real library, https://python-rq.org) driven through the System contract.

adapter.py   RQSystem: spawns `rq worker` processes, enqueues with Retry / enqueue_in, reads
             RQ's own registries (FailedJobRegistry, ScheduledJobRegistry, ...)
jobs.py      the job entry point RQ imports by name inside the worker: it hands the job to the probe
preload.py   the settings module `rq worker -c` imports: the job's code, loaded before forking
scheduler.py a stand-alone RQScheduler process, for when delayed jobs arrive after the workers
             were started without `--with-scheduler`
"""
