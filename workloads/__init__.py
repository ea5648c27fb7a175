"""Jobs that know nothing about queues. See workloads/base.py for the contract and
workloads/registry.py for how a workload is found by name (built-ins and entry points)."""
