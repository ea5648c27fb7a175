"""The layers point one way (shared/design/architecture.md): core <- workloads <- comparisons <-
harness, and reports <- core. Each test reads the import statements of every module of a package
(top level and inside functions alike) and fails on an import that points the wrong way."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PROJECT = {"core", "workloads", "comparisons", "harness", "reports", "examples", "tests"}

# what each package may import of the project (itself always)
ALLOWED = {
    "core": set(),
    "workloads": {"core"},
    "comparisons": {"core", "workloads"},
    "harness": {"core", "workloads", "comparisons"},  # the report is its own process
    "reports": {"core"},
}


def imports_of(path: Path) -> set[str]:
    """The project packages a module imports, anywhere in it."""
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & PROJECT


def wrong_way(package: str) -> list[str]:
    bad = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for target in imports_of(path) - ALLOWED[package] - {package}:
            bad.append(f"{path.relative_to(ROOT)} imports {target}")
    return bad


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_no_package_imports_a_higher_layer(package: str) -> None:
    assert wrong_way(package) == []


def test_the_check_sees_an_import_hidden_in_a_function(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from harness import runner\n    import reports.page\n")
    assert imports_of(module) == {"harness", "reports"}


@pytest.mark.parametrize("module", ["comparisons.resque_clone.worker",
                                    "comparisons.resque_clone.cli",
                                    "comparisons.sidekiq_clone.launcher",
                                    "comparisons.sidekiq_clone.cli"])
def test_a_clones_worker_needs_only_core(module: str) -> None:
    """The lesson folders run their workers with core alone: importing the worker loads no
    workload, harness or report module."""
    code = (f"import sys, {module}\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'workloads', 'harness', 'reports'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         timeout=60, check=True).stdout.strip()
    assert out == "[]"
