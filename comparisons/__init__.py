"""The systems compared, one folder each, each behind the System contract (core/contract.py) and
registered in the `queuebench.systems` entry points (pyproject.toml). See README.md here."""
