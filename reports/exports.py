"""The raw data next to the page: results.json as written, summary.csv and cells.csv.

summary.csv is the summary table in long form (one figure per line, with its ratios);
cells.csv is every scalar figure of every cell (one per line: cell, metric path, value), so a
spreadsheet or pandas can re-plot anything without parsing the nested JSON. The probe records
(raw/<cell-id>.jsonl) and latency histograms (raw/<cell-id>.latency.hdr) are copied as they are.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path
from typing import Any

from reports.run import Run
from reports.tables import Group


def _leaves(data: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Scalar leaves of nested metrics; lists of records (cdf, jobs) are left to the JSON."""
    if isinstance(data, dict):
        out: list[tuple[str, Any]] = []
        for k, v in data.items():
            out += _leaves(v, f"{prefix}.{k}" if prefix else str(k))
        return out
    if isinstance(data, list):
        return []
    return [(prefix, data)]


def write(run: Run, groups: list[Group], out_dir: Path) -> list[dict[str, str]]:
    """Write the data files into out_dir; return the links for the page (href, label, what, and
    raw: "1" for a cell's own file, which the page folds into a list of its own)."""
    links = []
    shutil.copyfile(run.path / "results.json", out_dir / "results.json")
    links.append({"href": "results.json", "label": "results.json",
                  "what": "everything the run wrote: metadata, configs, every cell, the summary", "raw": ""})

    with (out_dir / "summary.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["scenario", "workload", "metric", "params", "system", "config", "unit", "median",
                    "min", "max", "repeats", "ratio_to_floor", "ratio_to_best", "status", "reason"])
        for g in groups:
            for row in g.rows:
                for (system, config), e in row.entries.items():
                    w.writerow([row.scenario, row.workload, row.metric, json.dumps(row.params, sort_keys=True),
                                system, config, row.unit, _num(e.median), _num(e.lo), _num(e.hi),
                                e.repeats or "", _num(e.ratio_floor), _num(e.ratio_best), e.status, e.reason])
    links.append({"href": "summary.csv", "label": "summary.csv",
                  "what": "the summary table, one figure per line, with ratios to the floor and the best",
                  "raw": ""})

    with (out_dir / "cells.csv").open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["cell", "scenario", "system", "config", "workload", "repeat", "status", "reason",
                    "params", "metric", "value"])
        for c in run.cells:
            base = [c["id"], c["scenario"], c["system"], c["config"], c["workload"], c["repeat"],
                    c["status"], c["reason"], json.dumps(c["params"], sort_keys=True)]
            leaves = _leaves(c["metrics"]) or [("", "")]
            for metric, value in leaves:
                w.writerow([*base, metric, json.dumps(value) if isinstance(value, str | dict) else value])
    links.append({"href": "cells.csv", "label": "cells.csv",
                  "what": "every scalar figure of every cell and repeat (long form)", "raw": ""})

    raw_files = sorted({c["raw"] for c in run.cells if c.get("raw")})
    for rel in raw_files:
        src = run.path / rel
        if src.is_file() and not Path(rel).is_absolute() and ".." not in Path(rel).parts:
            dest = out_dir / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest)
            links.append({"href": rel, "label": rel, "what": "probe records of one cell (JSON lines)",
                          "raw": "1"})
            hdr = src.with_name(src.name.removesuffix(".jsonl") + ".latency.hdr")
            if hdr.is_file():
                shutil.copyfile(hdr, dest.with_name(hdr.name))
                href = str(Path(rel).with_name(hdr.name))
                links.append({"href": href, "label": href,
                              "what": "its latency histogram (HdrHistogram, compressed)", "raw": "1"})
    return links


def _num(x: Any) -> Any:
    if x is None:
        return ""
    if isinstance(x, float):
        return f"{x:.6g}"
    return x
