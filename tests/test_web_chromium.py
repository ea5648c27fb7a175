"""The browser tests' rule when Chromium is missing: skip with the reason locally, fail in CI."""

from __future__ import annotations

import os
import subprocess
import sys

from web_support import ROOT

ONE_BROWSER_TEST = "tests/test_web_resque.py::test_auth_is_required_when_set"


def run_without_chromium(ci: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["QUEUEBENCH_CHROMIUM"] = "/nonexistent/chromium"
    if ci:
        env["CI"] = "true"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", ONE_BROWSER_TEST],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )


def test_missing_chromium_skips_locally_with_the_reason() -> None:
    run = run_without_chromium(ci=False)
    assert run.returncode == 0, run.stdout
    assert "1 skipped" in run.stdout
    assert "/nonexistent/chromium is not installed" in run.stdout + run.stderr


def test_missing_chromium_fails_under_ci() -> None:
    run = run_without_chromium(ci=True)
    assert run.returncode == 1, run.stdout
    assert "browser tests need Chromium under CI" in run.stdout
