"""The report in a real headless Chromium (Debian's /usr/bin/chromium through Playwright): no
console errors, no network, every figure rendered, figures and tables accessible, and a
screenshot kept under test-artifacts/ for a person to look at.

Without Chromium the tests skip with the reason printed; with CI=true they fail instead.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from web_support import ARTIFACTS

import reports

FIXTURE = Path(__file__).parent / "fixtures" / "results-small"


@pytest.fixture(scope="module")
def browser(chromium: Any) -> Any:
    """The suite's headless Chromium (tests/web_support.py): skipped, or failed under CI, when
    Chromium or Playwright is missing."""
    return chromium


@pytest.fixture(scope="module")
def built(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reports-out")
    page = reports.build(FIXTURE, out)
    b = tmp_path_factory.mktemp("run-b")
    shutil.copytree(FIXTURE, b, dirs_exist_ok=True)
    reports.compare(FIXTURE, b, out / "compare-fixture" / "index.html")
    reports.page.write_index(out)
    return page


class Visit:
    """A page opened in the browser, with what it logged and asked for."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.context = browser.new_context(viewport={"width": 1280, "height": 900})
        self.page = self.context.new_page()
        self.page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.goto(path.as_uri(), wait_until="load")

    def close(self) -> None:
        self.context.close()


@pytest.fixture(scope="module")
def report(browser: Any, built: Path) -> Iterator[Visit]:
    """The report, opened once for the tests that only read it."""
    v = Visit(browser, built)
    yield v
    v.close()


@pytest.fixture
def visit(browser: Any) -> Iterator[Any]:
    opened: list[Visit] = []

    def open_(path: Path) -> Visit:
        v = Visit(browser, path)
        opened.append(v)
        return v

    yield open_
    for v in opened:
        v.close()


def test_the_report_loads_without_console_errors_or_network(report: Visit) -> None:
    v = report
    assert v.errors == []
    assert all(url.startswith(("file:", "data:")) for url in v.requests), v.requests


def test_every_figure_renders_with_a_size(report: Visit) -> None:
    v = report
    sizes = v.page.eval_on_selector_all(
        "svg.plot", "els => els.map(e => { const r = e.getBoundingClientRect(); "
        "return [e.closest('figure').id, r.width, r.height, e.querySelectorAll('path,line,text').length] })")
    assert len(sizes) >= 8
    for fid, width, height, marks in sizes:
        assert width > 300 and height > 100, fid
        assert marks > 20, fid
    images = v.page.eval_on_selector_all("img", "els => els.map(e => [e.src, e.complete && e.naturalWidth])")
    assert all(w for _, w in images), images


def test_every_figure_has_an_accessible_name_and_every_header_a_scope(report: Visit) -> None:
    v = report
    unnamed = v.page.evaluate(
        """() => [...document.querySelectorAll('svg.plot, img')].filter(e => {
               if (e.tagName === 'IMG') return !e.alt;
               const ids = (e.getAttribute('aria-labelledby') || '').split(' ').filter(Boolean);
               return e.getAttribute('role') !== 'img' || !ids.length ||
                      ids.some(id => !(document.getElementById(id)?.textContent || '').trim());
           }).length""")
    assert unnamed == 0
    bare = v.page.evaluate("() => [...document.querySelectorAll('th')].filter(t => !t.scope).length")
    assert bare == 0


def test_the_summary_table_is_readable_on_screen(report: Visit) -> None:
    v = report
    table = v.page.locator("#summary-table")
    assert table.is_visible()
    box = table.bounding_box()
    assert box and box["width"] > 600
    font = v.page.evaluate("() => getComputedStyle(document.body).fontFamily")
    assert "Times" not in font  # the inline stylesheet applied


def test_a_screenshot_of_the_report_is_kept(report: Visit) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    v = report
    shot = ARTIFACTS / "report.png"
    v.page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 50_000
    v.page.set_viewport_size({"width": 1280, "height": 900})
    v.page.screenshot(path=str(ARTIFACTS / "report-top.png"))


def test_the_comparison_and_the_index_of_runs_load_cleanly(visit: Any, built: Path) -> None:
    out = built.parent.parent
    for page in (out / "compare-fixture" / "index.html", out / "index.html", out / "latest" / "index.html"):
        v = visit(page)
        assert v.errors == [], page
        assert v.page.title()
    v = visit(out / "compare-fixture" / "index.html")
    ARTIFACTS.mkdir(exist_ok=True)
    v.page.screenshot(path=str(ARTIFACTS / "report-compare.png"), full_page=True)
    assert v.page.locator("#compare-table tbody tr").count() > 50


def test_the_across_hosts_section_renders_its_plot(visit: Any, tmp_path: Path) -> None:
    page = reports.build(FIXTURE.parent / "results-across-hosts", tmp_path / "out")
    v = visit(page)
    assert v.errors == []
    box = v.page.locator("#fig-across_hosts svg.plot").bounding_box()
    assert box and box["width"] > 300 and box["height"] > 100
    assert v.page.locator("#across_hosts table").count() >= 1
