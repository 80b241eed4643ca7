"""The built book in a real browser (Debian's Chromium, headless, driven by Playwright).

For every page of ``_toc.yml``: it loads with no console errors and no failed requests,
every image loads and has alt text, math is typeset by MathJax, every same-site link
resolves (page and anchor), the Colab/Binder buttons open a notebook of the repository, and
no request goes to any third-party server (MathJax's CDN is answered from a local copy of the
same npm package, see ``tests/browser_check.py``). The search page must find "gather".

The HTML is ``_build/html``: ``.ci/run`` builds it first; this test builds it itself
(strictly) only when a page is missing or older than its source. Screenshots go to
``ci-artifacts/screenshots/`` and a JSON report (pages, timings, every external request) to
``ci-artifacts/browser-report.json``. Skipped, saying so, only when Chromium is not installed.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import browser_check as bc  # tests/ is on sys.path under pytest
import pytest

DOCNAMES = bc.toc_docnames()
HTML = Path(os.environ.get("EMBEDTUT_HTML", bc.ROOT / "_build" / "html"))
SHOTS = bc.ARTIFACTS / "screenshots"
REPORTS: list[bc.PageReport] = []


@pytest.fixture(scope="module")
def site():
    """Build if needed, serve ``_build/html``, launch Chromium; yields (context, origin, ...)."""
    if not bc.CHROMIUM.exists():
        pytest.skip(
            f"no Chromium at {bc.CHROMIUM}: install it (`apt-get install -y chromium`) or set "
            "EMBEDTUT_CHROMIUM to run the browser test"
        )
    from playwright.sync_api import sync_playwright  # a dependency: requirements.txt pins it

    start = time.perf_counter()
    if "EMBEDTUT_HTML" not in os.environ and bc.stale_pages(HTML):
        bc.build_book()
    missing = [n for n in DOCNAMES if not (HTML / f"{n}.html").exists()]
    assert not missing, f"no HTML for {missing} in {HTML}"
    mathjax = bc.find_mathjax()
    handler = bc.route_handler(mathjax)
    links = bc.LinkChecker()
    with bc.Server(HTML) as server, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=str(bc.CHROMIUM), args=bc.CHROMIUM_ARGS, headless=True
        )
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        try:
            yield context, server.origin, links, handler
        finally:
            context.close()
            browser.close()
    bc.write_report(
        REPORTS,
        {"seconds": round(time.perf_counter() - start, 1), "mathjax": str(mathjax)},
        bc.ARTIFACTS / "browser-report.json",
    )


@pytest.mark.parametrize("docname", DOCNAMES)
def test_page(site, docname):
    context, origin, links, handler = site
    report = bc.check_page(
        context, docname, f"{origin}/{docname}.html", origin, links, SHOTS, handler
    )
    report.problems += bc.launch_problems(report)
    REPORTS.append(report)
    assert not report.problems, f"{docname}: " + "\n".join(report.problems)
    assert (SHOTS / f"{docname.replace('/', '__')}.png").stat().st_size > 0


def test_notebook_pages_offer_ipynb_download(site):
    """Every notebook page links its own .ipynb (the download button), and it is served."""
    context, origin, links, _ = site
    notebooks = [n for n in DOCNAMES if bc.source_of(n).suffix == ".ipynb"]
    assert notebooks or len(DOCNAMES) < 3, "no notebook in the TOC: is _toc.yml parsed?"
    for name in notebooks:
        page = (HTML / f"{name}.html").read_text(encoding="utf-8")
        source = f"_sources/{name}.ipynb"
        assert source.split("/", 1)[1] in page, f"{name}.html has no download link to {source}"
        assert links.problem(f"{origin}/{source}") is None, f"{source} is not served"


def test_search_finds_gather(site):
    context, origin, _, handler = site
    titles, problems = bc.search_results(context, origin, handler, SHOTS)
    assert not problems, "\n".join(problems)
    assert titles, f'the search page found nothing for "{bc.SEARCH_WORD}"'
