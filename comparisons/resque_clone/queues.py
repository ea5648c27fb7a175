"""Which queues a worker looks at, in which order: Resque's priority rule.

The worker checks its queues in the order given and takes the first job it finds; after every
job it starts again from the first. So `critical,default` starves `default` while `critical` has
work. A pattern expands on every poll against the `queues` set, its matches sorted
alphabetically: `*` is every queue, `high*` every queue starting with "high". A `!pattern` entry
removes matching queues (`*,!low`: everything but low), as the dynamic-queues plugin does.
"""

from __future__ import annotations

from fnmatch import fnmatchcase

GLOB_CHARS = set("*?[]{}")


def parse(spec: str | list[str]) -> list[str]:
    """'critical, *' or ['critical', '*'] -> ['critical', '*']."""
    items = spec.split(",") if isinstance(spec, str) else [p for s in spec for p in s.split(",")]
    queues = [q.strip() for q in items if q.strip()]
    if not queues:
        raise ValueError("Please give each worker at least one queue (e.g. --queue '*' or QUEUE=*)")
    return queues


def is_dynamic(patterns: list[str]) -> bool:
    return any(set(p) & GLOB_CHARS or p.startswith("!") for p in patterns)


def included(patterns: list[str]) -> list[str]:
    """The patterns without the `!` exclusions (Ruby keeps these apart as skip_queues)."""
    return [p for p in patterns if not p.startswith("!")]


def expand(patterns: list[str], existing: list[str]) -> list[str]:
    """The queues to poll, in priority order, given the names in the `queues` set."""
    excluded = [p[1:] for p in patterns if p.startswith("!")]
    out: list[str] = []
    for pattern in patterns:
        if pattern.startswith("!"):
            continue
        if set(pattern) & GLOB_CHARS:
            matches = sorted(q for q in existing if fnmatchcase(q, pattern))
        else:
            matches = [pattern]
        for q in matches:
            if q not in out and not any(fnmatchcase(q, x) for x in excluded):
                out.append(q)
    return out
