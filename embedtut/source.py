"""Showing the installed library's source, selected by content rather than line numbers.

The book quotes Keras by reading it at run time from the reader's installation. Selecting
lines by what they contain means a Keras update either shows the same logic or raises
:class:`LookupError`, never silently shows the wrong lines.
"""

from __future__ import annotations

import inspect
import re
import textwrap
from collections.abc import Callable
from pathlib import Path


def _line_range(lines: list[str], start: str, stop: str | None, name: str) -> tuple[int, int]:
    """Index of the first line holding ``start`` and of the first from there holding ``stop``."""
    hits = [i for i, line in enumerate(lines) if start in line]
    if not hits:
        raise LookupError(f"{start!r} not found in {name}: has the library changed?")
    if stop is None:
        return hits[0], hits[0]
    after = [i for i in range(hits[0], len(lines)) if stop in lines[i]]
    if not after:
        raise LookupError(f"{stop!r} not found in {name}: has the library changed?")
    return hits[0], after[0]


def excerpt_text(func: Callable, start: str, stop: str | None = None) -> str:
    """Lines of ``func``'s source, from the one containing ``start`` to the next with ``stop``.

    Args:
        func: a function, method or class whose source is available.
        start: text of the first line to show.
        stop: text of the last line to show (searched from ``start`` on); ``None`` shows
            the ``start`` line alone.

    Returns:
        A header ``# <path from the package folder> :: <qualified name>`` and the lines,
        dedented. Where lines of the source are left out, before or after the excerpt, an
        elision line says which: ``# ... lines 1-12 of 60 not shown ...`` (numbered within
        ``func``'s source), so a reader never mistakes an excerpt for the whole function.

    Raises:
        LookupError: ``start`` or ``stop`` is not in the source (the library changed).
    """
    lines = inspect.getsource(func).splitlines()
    name = func.__qualname__
    first, last = _line_range(lines, start, stop, name)
    path = inspect.getsourcefile(func) or "?"
    package = func.__module__.split(".")[0]
    path = re.sub(rf".*[/\\]({re.escape(package)}[/\\])", r"\1", path)
    body = textwrap.dedent("\n".join(lines[first : last + 1]))
    total = len(lines)

    def hidden(a: int, b: int) -> str:  # 1-based, inclusive
        span = f"line {a}" if a == b else f"lines {a}-{b}"
        return f"# ... {span} of {total} not shown ...\n"

    before = hidden(1, first) if first > 0 else ""
    after = "\n" + hidden(last + 2, total).rstrip("\n") if last + 1 < total else ""
    return f"# {path} :: {name}\n{before}{body}{after}"


def excerpt(func: Callable, start: str, stop: str | None = None) -> None:
    """Print :func:`excerpt_text` (what a notebook cell shows)."""
    print(excerpt_text(func, start, stop))


def file_excerpt_text(path: str | Path, start: str, stop: str | None = None) -> str:
    """Lines of a source file *read as text*, selected by content like :func:`excerpt_text`.

    For code that cannot be imported here (a Keras backend whose package is not
    installed, such as ``keras/src/backend/torch/numpy.py`` without PyTorch): the file is
    read, never imported.

    Args:
        path: the file; the header shows it from its top-level package folder on
            (``keras/src/...``), found as the first folder of the path that holds an
            ``__init__.py`` with no package above it.
        start, stop: as in :func:`excerpt_text` (``stop`` searched from ``start`` on).

    Returns:
        ``# <path> (read as text), lines a-b of n`` and the lines, dedented.

    Raises:
        LookupError: ``start`` or ``stop`` is not in the file (the library changed).
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    first, last = _line_range(lines, start, stop, path.name)
    top = path.parent
    while (top.parent / "__init__.py").exists():
        top = top.parent
    shown = path.relative_to(top.parent).as_posix() if (top / "__init__.py").exists() else path.name
    body = textwrap.dedent("\n".join(lines[first : last + 1]))
    return f"# {shown} (read as text), lines {first + 1}-{last + 1} of {len(lines)}\n{body}"


def file_excerpt(path: str | Path, start: str, stop: str | None = None) -> None:
    """Print :func:`file_excerpt_text` (what a notebook cell shows)."""
    print(file_excerpt_text(path, start, stop))
