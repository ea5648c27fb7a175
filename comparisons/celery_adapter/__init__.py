"""Celery (the real library, https://docs.celeryq.dev) driven through the System contract.

app.py       the Celery app and its one task, for `celery -A comparisons.celery_adapter.app worker`
adapter.py   CelerySystem: spawns `celery worker` processes, sends tasks by name, reads the broker
messages.py  what Celery's own messages in a Redis broker say: pending, countdown, retries
"""
