"""Sphinx extension: drop duplicate inline scripts from each page.

sphinx-thebe 0.3.1 (pinned by jupyter-book 1.0.4) registers its inline configuration script
(``const THEBE_JS_URL = ...``) after the HTML builder exists, so Sphinx 7.4 lists it twice,
once with filename ``None`` and once with ``""``. A browser then stops at the second copy with
"Identifier 'THEBE_JS_URL' has already been declared" on every page. The browser test
(tests/test_browser.py) fails on any console error, so this keeps the first copy only.
"""

from __future__ import annotations

from typing import Any


def _key(asset: Any) -> tuple:
    attributes = getattr(asset, "attributes", {}) or {}
    filename = getattr(asset, "filename", asset) or ""
    return (filename, tuple(sorted((k, str(v)) for k, v in attributes.items())))


def unique_scripts(app, pagename, templatename, context, doctree) -> None:
    """Keep the first of several identical entries of ``context["script_files"]``."""
    scripts = context.get("script_files")
    if not scripts:
        return
    seen: set[tuple] = set()
    unique = []
    for asset in scripts:
        key = _key(asset)
        if key not in seen:
            seen.add(key)
            unique.append(asset)
    context["script_files"] = unique


def setup(app) -> dict:
    # priority 900: after the themes and extensions have added their scripts
    app.connect("html-page-context", unique_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
