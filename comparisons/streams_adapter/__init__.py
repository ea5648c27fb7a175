"""A Redis Streams queue (taskiq with taskiq-redis's RedisStreamBroker) driven through the System
contract.

adapter.py  StreamsSystem: spawns worker processes, XADDs jobs, reads the stream, its consumer
            group and pending entries list (XINFO, XPENDING) and the schedule source
app.py      the broker, the task and the scheduler the worker and scheduler processes import
            (settings come from the environment the adapter sets)
worker.py   one taskiq worker process (taskiq's own Receiver, without `taskiq worker`'s process
            manager: the harness supervises worker processes as it does for every system), or
            the taskiq scheduler
"""
