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
import shutil
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
    shutil.rmtree(SHOTS, ignore_errors=True)  # no screenshot of a page that is gone
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


# ------------------------------------------------ the checker itself (no browser needed)


def test_toc_lists_every_page_with_a_source():
    assert DOCNAMES[0] == "book/intro" and "book/bibliography" in DOCNAMES
    assert len(DOCNAMES) == len(set(DOCNAMES)), "a page is listed twice in _toc.yml"
    for name in DOCNAMES:
        assert bc.source_of(name).exists()


def test_link_checker_finds_missing_pages_and_anchors(tmp_path):
    (tmp_path / "a.html").write_text('<h1 id="top">A</h1><a name="old">x</a>')
    with bc.Server(tmp_path) as server:
        links = bc.LinkChecker()
        assert links.problem(f"{server.origin}/a.html") is None
        assert links.problem(f"{server.origin}/a.html#top") is None
        assert links.problem(f"{server.origin}/a.html#old") is None
        assert "HTTP 404" in links.problem(f"{server.origin}/b.html")
        assert "no element with id 'gone'" in links.problem(f"{server.origin}/a.html#gone")


def test_launch_buttons_must_open_a_repository_notebook():
    report = bc.PageReport("book/x", "http://127.0.0.1/book/x.html")
    base = "https://colab.research.google.com/github/embedtut/embedtut/blob/main/"
    report.external_links = [base + "book/no_such_chapter.ipynb", base + "book/intro.md"]
    report.external_links.append(
        "https://mybinder.org/v2/gh/embedtut/embedtut/main?urlpath=lab/tree/book/nope.ipynb"
    )
    problems = bc.launch_problems(report)
    assert len(problems) == 2
    assert "no_such_chapter.ipynb" in problems[0] and "nope.ipynb" in problems[1]


class _FakeRoute:
    """Just enough of playwright's Route for the handler: records what it was told to do."""

    def __init__(self, url):
        self.request = type("Request", (), {"url": url})()
        self.done = None

    def continue_(self):
        self.done = ("continue",)

    def fulfill(self, **kwargs):
        self.done = ("fulfill", kwargs.get("status", 200), kwargs.get("path"))

    def abort(self, reason=None):
        self.done = ("abort", reason)


def test_route_serves_cdn_mathjax_locally_and_refuses_other_servers(tmp_path):
    (tmp_path / "es5").mkdir()
    (tmp_path / "es5" / "tex-mml-chtml.js").write_text("// MathJax")
    handle = bc.route_handler(tmp_path)
    origin, external = "http://127.0.0.1:8000", []
    cases = {
        f"{origin}/book/intro.html": ("continue",),
        bc.MATHJAX_CDN + "es5/tex-mml-chtml.js": (
            "fulfill",
            200,
            str((tmp_path / "es5" / "tex-mml-chtml.js").resolve()),
        ),
        bc.MATHJAX_CDN + "es5/missing.js": ("fulfill", 404, None),
        bc.MATHJAX_CDN + "../../etc/passwd": ("fulfill", 404, None),
        "https://unpkg.com/thebe@0.8.2/lib/index.js": ("abort", "blockedbyclient"),
    }
    for url, expected in cases.items():
        route = _FakeRoute(url)
        handle(route, origin, external)
        assert route.done == expected, url
    assert len(external) == 4  # everything but the local page is recorded
