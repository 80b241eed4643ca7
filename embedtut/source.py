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
    first = [i for i, line in enumerate(lines) if start in line]
    if not first:
        raise LookupError(f"{start!r} not found in {name}: has the library changed?")
    last = first[0]
    if stop is not None:
        after = [i for i in range(first[0], len(lines)) if stop in lines[i]]
        if not after:
            raise LookupError(f"{stop!r} not found in {name}: has the library changed?")
        last = after[0]
    path = inspect.getsourcefile(func) or "?"
    package = func.__module__.split(".")[0]
    path = re.sub(rf".*[/\\]({re.escape(package)}[/\\])", r"\1", path)
    body = textwrap.dedent("\n".join(lines[first[0] : last + 1]))
    total = len(lines)

    def hidden(a: int, b: int) -> str:  # 1-based, inclusive
        span = f"line {a}" if a == b else f"lines {a}-{b}"
        return f"# ... {span} of {total} not shown ...\n"

    before = hidden(1, first[0]) if first[0] > 0 else ""
    after = "\n" + hidden(last + 2, total).rstrip("\n") if last + 1 < total else ""
    return f"# {path} :: {name}\n{before}{body}{after}"


def excerpt(func: Callable, start: str, stop: str | None = None) -> None:
    """Print :func:`excerpt_text` (what a notebook cell shows)."""
    print(excerpt_text(func, start, stop))
