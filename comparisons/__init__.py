"""The systems compared: two hand-built clones (Resque, Sidekiq) and two real libraries (RQ,
Celery), each behind the System contract in comparisons/base.py."""
