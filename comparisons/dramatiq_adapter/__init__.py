"""Dramatiq (the real library, https://dramatiq.io) driven through the System contract.

adapter.py   DramatiqSystem: spawns `dramatiq` worker processes (processes x threads), enqueues
             messages on the Redis (or RabbitMQ) broker, reads the delay and dead-letter queues
actors.py    the broker and the one actor the `dramatiq` CLI imports: it hands the job to the probe
"""
