"""python -m comparisons.resque_clone ...: see cli.py."""

import sys

from comparisons.resque_clone.cli import main

sys.exit(main())
