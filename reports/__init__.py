"""Reports: a run's results.json -> one self-contained HTML page (Jinja2 + inline matplotlib SVG).

    reports.build(run_dir)            -> reports/out/<run-id>/index.html (+ latest/, index of runs)
    reports.compare(run_a, run_b)     -> two runs side by side, changes beyond the spread flagged
"""

from core.errors import ResultsError
from reports.diff import compare
from reports.page import build

__all__ = ["build", "compare", "ResultsError"]
