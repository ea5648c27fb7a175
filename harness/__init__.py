"""The harness: embedded Redis, the probe, producers, scenarios, metrics and the `queuebench` CLI."""
