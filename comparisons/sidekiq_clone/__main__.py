"""`python -m comparisons.sidekiq_clone`: the server (or `... web` for the dashboard)."""

import logging
import os
import sys

from comparisons.sidekiq_clone.cli import main

code = main()
logging.shutdown()
sys.stdout.flush()
sys.stderr.flush()
# Processor threads told to stop may still sit in a blocking call; the jobs they held are
# already back in Redis, so leave now rather than wait for them.
os._exit(code)
