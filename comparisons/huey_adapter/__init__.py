"""Huey (the real library, https://huey.readthedocs.io) driven through the System contract.

adapter.py   HueySystem: spawns `huey_consumer` (worker threads or processes), enqueues tasks on
             Redis or a SQLite file, reads Huey's own queue, schedule and result store
app.py       the Huey instance and the one task the consumer imports: it hands the job to the probe
"""
