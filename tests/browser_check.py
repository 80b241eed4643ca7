"""Check the built book in a real browser: the machinery behind ``tests/test_browser.py``.

The book's HTML (``_build/html``) is served on 127.0.0.1 by a thread running
``http.server`` and opened, page by page, in Debian's Chromium driven by Playwright's Python
API (Playwright never downloads a browser here: it is pointed at ``/usr/bin/chromium``).

No request leaves the machine. Every request a page makes goes through one route handler:

* requests to the local server pass through;
* requests for MathJax 3 on the jsDelivr CDN (the URL Sphinx puts in every page with math,
  ``https://cdn.jsdelivr.net/npm/mathjax@3/es5/tex-mml-chtml.js``, and the fonts and
  extensions MathJax then loads relative to it) are answered from a local copy of the same
  npm package (``npm install mathjax@3``; see :func:`find_mathjax`), so math is typeset
  offline exactly as readers' browsers typeset it from the CDN;
* anything else is aborted and reported as a problem: the published book must not depend on
  any other third-party server.

Every request is recorded, so the report lists each external URL a page asked for.
"""

from __future__ import annotations

import functools
import html.parser
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("EMBEDTUT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
MATHJAX_CDN = "https://cdn.jsdelivr.net/npm/mathjax@3/"
MATHJAX_VERSION = "3.2.2"  # what "mathjax@3" resolves to on the CDN
MATHJAX_PREFIX = ROOT / "_build" / "ci"  # npm --prefix; _build/ is git-ignored
ARTIFACTS = ROOT / "ci-artifacts"
SEARCH_WORD = "gather"


# --------------------------------------------------------------------------- the pages


def toc_docnames(root: Path = ROOT) -> list[str]:
    """Return every document in ``_toc.yml`` (root first, then in reading order)."""
    toc = yaml.safe_load((root / "_toc.yml").read_text(encoding="utf-8"))
    names = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for entry in entries or []:
            if "file" in entry:
                names.append(entry["file"])
            for key in ("chapters", "sections", "parts"):
                walk(entry.get(key, []))

    walk(toc.get("parts", []))
    walk(toc.get("chapters", []))
    walk(toc.get("sections", []))
    return [re.sub(r"\.(md|ipynb)$", "", name) for name in names]


def source_of(docname: str, root: Path = ROOT) -> Path:
    """Return the source file (``.md`` or ``.ipynb``) of a TOC document."""
    for suffix in (".ipynb", ".md"):
        path = root / f"{docname}{suffix}"
        if path.exists():
            return path
    raise FileNotFoundError(f"{docname}: no .ipynb or .md source next to _toc.yml")


def stale_pages(html_dir: Path, root: Path = ROOT) -> list[str]:
    """Return the TOC documents whose HTML page is missing or older than their source."""
    stale = []
    for name in toc_docnames(root):
        page = html_dir / f"{name}.html"
        try:
            source = source_of(name, root)
        except FileNotFoundError:
            stale.append(name)
            continue
        if not page.exists() or page.stat().st_mtime < source.stat().st_mtime:
            stale.append(name)
    return stale


def build_book(root: Path = ROOT) -> None:
    """Build the book strictly (``jupyter-book build . -W -n --keep-going``)."""
    exe = shutil.which("jupyter-book") or str(Path(sys.executable).parent / "jupyter-book")
    proc = subprocess.run(
        [exe, "build", ".", "-W", "-n", "--keep-going"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-40:])
        raise RuntimeError(f"the strict book build failed:\n{tail}")


# --------------------------------------------------------------------------- MathJax


def find_mathjax(install: bool = True) -> Path:
    """Return the folder of a local MathJax 3 npm package (the CDN's ``mathjax@3``).

    Looked for in ``$EMBEDTUT_MATHJAX`` then ``_build/ci/node_modules/mathjax`` (where
    ``.ci/run`` installs it). If absent and ``install`` is true, ``npm`` installs it there.
    """
    env = os.environ.get("EMBEDTUT_MATHJAX")
    candidates = [Path(env)] if env else []
    candidates.append(MATHJAX_PREFIX / "node_modules" / "mathjax")
    for path in candidates:
        if (path / "es5" / "tex-mml-chtml.js").exists():
            return path
    if install and shutil.which("npm"):
        subprocess.run(
            ["npm", "install", "--no-save", "--no-audit", "--no-fund", "--prefix",
             str(MATHJAX_PREFIX), f"mathjax@{MATHJAX_VERSION}"],
            check=False, capture_output=True,
        )  # fmt: skip
        return find_mathjax(install=False)
    raise FileNotFoundError(
        "no local MathJax 3: run `npm install --no-save --prefix _build/ci "
        f"mathjax@{MATHJAX_VERSION}` (or set EMBEDTUT_MATHJAX to a mathjax npm package folder); "
        "the browser test serves the CDN's MathJax from it because CI has no internet"
    )


# --------------------------------------------------------------------------- the server


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - http.server's signature
        pass


class Server:
    """``_build/html`` served on 127.0.0.1 at a free port, in a background thread."""

    def __init__(self, directory: Path):
        handler = functools.partial(_QuietHandler, directory=str(directory))
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=10)


class _Ids(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for key, value in attrs:
            if key == "id" or (tag == "a" and key == "name"):
                self.ids.add(value or "")


class LinkChecker:
    """Fetch same-origin targets once each and remember their status and anchors."""

    def __init__(self):
        self.cache: dict[str, tuple[int, set[str]]] = {}

    def target(self, url: str) -> tuple[int, set[str]]:
        if url not in self.cache:
            try:
                with urllib.request.urlopen(url, timeout=30) as resp:
                    body = resp.read()
                    status = resp.status
                    kind = resp.headers.get_content_type()
            except urllib.error.HTTPError as err:
                self.cache[url] = (err.code, set())
                return self.cache[url]
            ids: set[str] = set()
            if kind == "text/html":
                parser = _Ids()
                parser.feed(body.decode("utf-8", errors="replace"))
                ids = parser.ids
            self.cache[url] = (status, ids)
        return self.cache[url]

    def problem(self, href: str) -> str | None:
        """Return why a same-origin ``href`` does not resolve, or None if it does."""
        page, _, fragment = href.partition("#")
        page = page.split("?", 1)[0]
        status, ids = self.target(page)
        if status >= 400:
            return f"link {href} -> HTTP {status}"
        fragment = urllib.parse.unquote(fragment)
        if fragment and fragment not in ids:
            return f"link {href} -> no element with id {fragment!r} on that page"
        return None


# --------------------------------------------------------------------------- one page


@dataclass
class PageReport:
    """What one page did in the browser, and everything wrong with it."""

    docname: str
    url: str
    seconds: float = 0.0
    requests: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    math_elements: int = 0
    images: int = 0
    links_checked: int = 0
    external_links: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


# Runs in the page: every <img> finished loading, lazy ones forced to load first.
_IMAGES_JS = """async () => {
  const imgs = Array.from(document.images);
  for (const img of imgs) { if (img.loading === "lazy") img.loading = "eager"; }
  await Promise.all(imgs.map(img => img.complete ? null : new Promise(done => {
    img.addEventListener("load", done); img.addEventListener("error", done);
    setTimeout(done, 20000);
  })));
  return imgs.map(img => ({src: img.currentSrc || img.src, alt: img.getAttribute("alt"),
                           width: img.naturalWidth, inMain: !!img.closest("main, article")}));
}"""

# Runs in the page: math left untypeset, TeX errors, raw delimiters in the visible text.
_MATH_JS = r"""() => {
  const math = Array.from(document.querySelectorAll(".math"));
  const untypeset = math.filter(el => !el.querySelector("mjx-container")
                                      && el.tagName !== "MJX-CONTAINER")
                        .map(el => el.textContent.trim().slice(0, 80));
  const errors = Array.from(document.querySelectorAll("mjx-merror"))
                      .map(el => el.getAttribute("data-mjx-error") || el.textContent);
  const skip = "pre, code, script, style, mjx-container, .highlight, textarea";
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const raw = [];
  const pattern = /\$\$|\\\(|\\\[|\$[^$\s][^$]*\\[A-Za-z]+[^$]*\$/;
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (node.parentElement && node.parentElement.closest(skip)) continue;
    if (pattern.test(node.textContent)) raw.push(node.textContent.trim().slice(0, 80));
  }
  return {count: math.length, untypeset, errors, raw,
          typeset: document.querySelectorAll("mjx-container").length};
}"""


def _same_origin(url: str, origin: str) -> bool:
    return url.startswith(origin + "/") or url == origin


def route_handler(mathjax: Path):
    """A Playwright route handler: local pass, CDN MathJax from disk, the rest refused."""

    def handle(route, origin: str, external: list[str]):
        url = route.request.url
        if _same_origin(url, origin) or url.startswith(("data:", "blob:")):
            route.continue_()
            return
        external.append(url)
        if url.startswith(MATHJAX_CDN):
            rel = urllib.parse.urlparse(url).path[len("/npm/mathjax@3/") :]
            path = (mathjax / rel).resolve()
            if path.is_file() and mathjax.resolve() in path.parents:
                route.fulfill(path=str(path), headers={"Access-Control-Allow-Origin": "*"})
                return
            route.fulfill(status=404, body=f"{rel} is not in the local MathJax {mathjax}")
            return
        route.abort("blockedbyclient")

    return handle


def check_page(context, docname: str, url: str, origin: str, links: LinkChecker,
               shots: Path, route_handler) -> PageReport:  # fmt: skip
    """Open ``url`` in a new tab of ``context`` and return its report (no problems: all well)."""
    report = PageReport(docname=docname, url=url)
    start = time.perf_counter()
    page = context.new_page()

    def on_console(msg):
        if msg.type == "error":
            where = msg.location.get("url", "") if msg.location else ""
            report.problems.append(f"console error: {msg.text} ({where})")

    def on_failed(request):
        report.problems.append(f"request failed: {request.url} ({request.failure})")

    def on_response(response):
        if response.status >= 400:
            report.problems.append(f"HTTP {response.status}: {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda err: report.problems.append(f"page error: {err}"))
    page.on("request", lambda request: report.requests.append(request.url))
    page.on("requestfailed", on_failed)
    page.on("response", on_response)
    page.route("**/*", lambda route: route_handler(route, origin, report.external_requests))
    try:
        response = page.goto(url, wait_until="load", timeout=60_000)
        if response is None or response.status >= 400:
            report.problems.append(f"page itself: HTTP {response.status if response else '?'}")
        page.wait_for_load_state("networkidle", timeout=30_000)

        if page.locator(".math").count():
            try:
                page.wait_for_function(
                    "() => window.MathJax && MathJax.startup && MathJax.startup.promise",
                    timeout=30_000,
                )
                page.evaluate("() => MathJax.startup.promise.then(() => true)")
            except Exception as err:
                report.problems.append(f"MathJax did not start within 30 s: {err}")
        math = page.evaluate(_MATH_JS)
        report.math_elements = math["count"]
        for text in math["untypeset"]:
            report.problems.append(f"math not typeset by MathJax: {text!r}")
        for text in math["errors"]:
            report.problems.append(f"MathJax error: {text!r}")
        for text in math["raw"]:
            report.problems.append(f"raw math delimiters left in the text: {text!r}")

        images = page.evaluate(_IMAGES_JS)
        report.images = len(images)
        for img in images:
            if img["width"] <= 0:
                report.problems.append(f"image did not load: {img['src']}")
            alt = (img["alt"] or "").strip()
            if img["inMain"] and (not alt or re.search(r"\.(png|svg|jpe?g|gif)$", alt)):
                report.problems.append(f"image without alt text: {img['src']}")

        hrefs = page.eval_on_selector_all("a[href]", "els => els.map(a => a.href)")
        for href in sorted(set(hrefs)):
            if _same_origin(href, origin):
                report.links_checked += 1
                problem = links.problem(href)
                if problem:
                    report.problems.append(problem)
            elif href.startswith("http"):
                report.external_links.append(href)
        page.wait_for_load_state("networkidle", timeout=30_000)
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / f"{docname.replace('/', '__')}.png"), full_page=True)
    except Exception as err:  # a timeout or crash is a problem of this page, not of the run
        report.problems.append(f"{type(err).__name__}: {err}")
    finally:
        page.close()
    for url_ in report.external_requests:
        if not url_.startswith(MATHJAX_CDN):
            report.problems.append(f"external request (not allowed): {url_}")
    report.seconds = round(time.perf_counter() - start, 2)
    return report


def launch_problems(report: PageReport, root: Path = ROOT) -> list[str]:
    """Colab/Binder buttons must open a notebook that exists at that path in the repository."""
    problems = []
    tracked = _tracked_files(root)
    for href in report.external_links:
        parsed = urllib.parse.urlparse(href)
        path = None
        if parsed.netloc == "colab.research.google.com":
            path = parsed.path.split("/blob/main/", 1)[-1]
        elif parsed.netloc == "mybinder.org":
            query = urllib.parse.parse_qs(parsed.query)
            for key in ("urlpath", "labpath"):
                if key in query:
                    path = re.sub(r"^(lab/tree|tree|notebooks)/", "", query[key][0])
        if path is not None and path not in tracked:
            problems.append(f"launch button {href} opens {path}, not in the repository")
    return problems


@functools.cache
def _tracked_files(root: Path) -> frozenset[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files"], cwd=root, capture_output=True, text=True, check=True
        ).stdout
        return frozenset(out.splitlines())
    except (OSError, subprocess.CalledProcessError):
        return frozenset(str(p.relative_to(root)) for p in root.rglob("*.ipynb"))


def search_results(context, origin: str, route_handler, shots: Path,
                   word: str = SEARCH_WORD) -> tuple[list[str], list[str]]:  # fmt: skip
    """Run Sphinx's search page for ``word``: return (titles of the hits, problems)."""
    problems: list[str] = []
    external: list[str] = []
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and problems.append(f"console: {m.text}"))
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    page.on("requestfailed", lambda r: problems.append(f"request failed: {r.url}"))
    page.route("**/*", lambda route: route_handler(route, origin, external))
    try:
        page.goto(f"{origin}/search.html?q={word}", wait_until="load", timeout=60_000)
        page.wait_for_function(
            """() => {
              const box = document.querySelector("#search-results");
              // searchtools.js renames the heading when the last result is shown
              return box && /Search Results/.test(box.querySelector("h2")?.textContent || "");
            }""",
            timeout=60_000,
        )
        page.wait_for_load_state("networkidle", timeout=30_000)
        titles = page.eval_on_selector_all(
            "#search-results ul.search li > a:first-of-type",
            "els => els.map(a => a.textContent.trim())",
        )
        shots.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(shots / f"search_{word}.png"), full_page=True)
    finally:
        page.close()
    problems += [f"external request (not allowed): {u}" for u in external]
    return titles, problems


def write_report(reports: list[PageReport], extra: dict, path: Path) -> None:
    """Write the whole run as JSON (pages, timings, external requests, problems)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    external = sorted({u for r in reports for u in r.external_requests})
    data = {
        **extra,
        "pages_checked": len(reports),
        "external_requests": external,
        "pages": [r.__dict__ for r in reports],
    }
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
