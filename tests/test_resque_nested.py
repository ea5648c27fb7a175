"""--require registers nested job classes under Ruby's spelling (Outer.Inner -> "Outer::Inner"),
so a Ruby producer's `Resque.enqueue(Outer::Inner, ...)` runs on the clone."""

from __future__ import annotations

import json

from resque_jobs import JOBS_FILE, events

from comparisons.resque_clone import registry


def test_require_registers_a_nested_class_as_outer_colon_colon_inner():
    assert "Outer::Inner" in registry.require(JOBS_FILE)
    assert "Outer" not in registry.known()  # a namespace without perform is no job


def test_a_worker_runs_a_ruby_payload_naming_a_nested_class(resque_worker, redis_client, run_dir):
    redis_client.rpush("resque:queue:default", json.dumps({"class": "Outer::Inner", "args": [7]}))
    worker = resque_worker("--queue", "default", "--interval", "0", wait=False)
    assert worker.wait(timeout=60) == 0, worker.output()
    assert [e["args"] for e in events(run_dir, "inner")] == [[7]]
    assert redis_client.llen("resque:failed") == 0
