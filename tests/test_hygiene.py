"""Repository hygiene: lint/format, committed notebooks executed and clean, launch files.

* ruff lints and checks the formatting of the package, the tests and the notebooks
  (configuration in pyproject.toml);
* every committed notebook was executed top to bottom (code cells numbered 1..n), has no
  error output, no warning or absolute path in its outputs, starts with the Colab install
  cell, and gives each figure a caption and alt text; every numbered chapter ends with
  exercises whose solutions are hidden in a dropdown;
* Binder installs exactly requirements.txt; the Pages workflow builds strictly.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
LINTED = ["embedtut", "tests", "book"]  # book: the notebooks (and book/_ext)

COLAB_CELL = """\
# On Colab, install the book's package first; elsewhere this does nothing.
import sys

if "google.colab" in sys.modules:
    %pip install -q "embedtut @ git+https://github.com/embedtut/embedtut\""""


def committed_notebooks() -> list[str]:
    """The notebooks under book/ that git tracks (all of them if this is not a git checkout)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "book/*.ipynb"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
    except (OSError, subprocess.CalledProcessError):
        out = [str(p.relative_to(ROOT)) for p in sorted((ROOT / "book").glob("*.ipynb"))]
    return sorted(out)


def numbered_chapters() -> set[str]:
    """Files listed under a ``numbered: true`` part of _toc.yml (e.g. ``book/01_...``)."""
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text(encoding="utf-8"))
    return {
        chapter["file"]
        for part in toc.get("parts", [])
        if part.get("numbered")
        for chapter in part.get("chapters", [])
    }


NOTEBOOKS = committed_notebooks()


def _load(name: str) -> dict:
    return json.loads((ROOT / name).read_text(encoding="utf-8"))


def _source(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ruff", *args, *LINTED],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )


def test_ruff_check():
    proc = _ruff("check", "--no-cache")
    assert proc.returncode == 0, f"ruff check found problems:\n{proc.stdout}{proc.stderr}"


def test_ruff_format():
    proc = _ruff("format", "--check", "--no-cache")
    assert proc.returncode == 0, (
        f"not formatted (run `ruff format {' '.join(LINTED)}`):\n{proc.stdout}{proc.stderr}"
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_executed_top_to_bottom(name):
    cells = [c for c in _load(name)["cells"] if c["cell_type"] == "code"]
    counts = [c.get("execution_count") for c in cells]
    missing = [i for i, n in enumerate(counts, 1) if n is None]
    assert not missing, f"{name}: code cells {missing} were never executed"
    assert counts == list(range(1, len(cells) + 1)), (
        f"{name}: execution counts {counts} are not 1..{len(cells)}: "
        "rerun the whole notebook top to bottom (Restart & Run All, or nbconvert --execute)"
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_outputs_clean(name):
    problems = []
    for i, cell in enumerate(c for c in _load(name)["cells"] if c["cell_type"] == "code"):
        for out in cell.get("outputs", []):
            kind = out["output_type"]
            if kind == "error":
                problems.append(f"cell {i + 1}: error output {out.get('ename')}")
                continue
            texts = []
            if kind == "stream":
                text = "".join(out["text"]) if isinstance(out["text"], list) else out["text"]
                texts.append(text)
                if out["name"] == "stderr" and re.search(r"Warning\b|━━", text):
                    problems.append(f"cell {i + 1}: warning or progress bar on stderr")
            for mime in ("text/plain", "text/markdown"):
                data = out.get("data", {}).get(mime)
                if data:
                    texts.append("".join(data) if isinstance(data, list) else data)
            for text in texts:
                if re.search(r"(?<![\w.])/(work|tmp|root|home|Users)/", text):
                    problems.append(f"cell {i + 1}: absolute path in output")
                if re.search(r"\bat 0x[0-9a-fA-F]{6,}", text):
                    problems.append(f"cell {i + 1}: memory address in output")
    assert not problems, f"{name}:\n" + "\n".join(problems)


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_starts_with_colab_install_cell(name):
    code = [c for c in _load(name)["cells"] if c["cell_type"] == "code"]
    assert code, f"{name} has no code cell"
    first = _source(code[0]).strip()
    assert first == COLAB_CELL, (
        f"{name}: the first code cell must be exactly the Colab install cell:\n{COLAB_CELL}\n"
        f"found:\n{first}"
    )


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_figures_have_caption_and_alt(name):
    problems = []
    for i, cell in enumerate(c for c in _load(name)["cells"] if c["cell_type"] == "code"):
        images = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        if not images:
            continue
        meta = cell.get("metadata", {}).get("mystnb", {})
        figure, image = meta.get("figure", {}), meta.get("image", {})
        if not str(figure.get("caption", "")).strip():
            problems.append(f"cell {i + 1}: figure without mystnb.figure.caption")
        if not str(figure.get("name", "")).strip():
            problems.append(f"cell {i + 1}: figure without mystnb.figure.name")
        if not str(image.get("alt", "")).strip():
            problems.append(f"cell {i + 1}: figure without mystnb.image.alt")
        if len(images) > 1:
            problems.append(f"cell {i + 1}: {len(images)} images in one cell (one figure each)")
    assert not problems, f"{name}:\n" + "\n".join(problems)


CHAPTERS = [n for n in NOTEBOOKS if n.removesuffix(".ipynb") in numbered_chapters()]


@pytest.mark.parametrize("name", CHAPTERS)
def test_chapter_has_exercises_with_hidden_solutions(name):
    text = "\n".join(_source(c) for c in _load(name)["cells"] if c["cell_type"] == "markdown")
    exercises = re.findall(r"^:::\{admonition\} Exercise \d+\.\d+\s*$", text, re.M)
    solutions = re.findall(r"^:::\{admonition\} Solution\s*\n:class: dropdown\s*$", text, re.M)
    assert len(exercises) >= 2, f"{name}: {len(exercises)} exercises, the book wants 2-3"
    assert len(solutions) == len(exercises), (
        f"{name}: {len(exercises)} exercises but {len(solutions)} solutions in a "
        "`:::{admonition} Solution` + `:class: dropdown` block"
    )


def test_binder_installs_requirements_txt():
    lines = [
        line.split("#", 1)[0].strip()
        for line in (ROOT / "binder" / "requirements.txt").read_text().splitlines()
    ]
    assert [line for line in lines if line] == ["-r ../requirements.txt"]
    assert "-e ." in (ROOT / "requirements.txt").read_text().splitlines()
    assert (ROOT / "binder" / "runtime.txt").read_text().strip() == "python-3.11"


def test_pages_workflow_builds_strictly_and_deploys():
    workflow = ROOT / ".github" / "workflows" / "book.yml"
    text = workflow.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    assert "jupyter-book build . -W -n --keep-going" in text
    assert "pip install -r requirements.txt" in text
    steps = [s.get("uses", "") for job in data["jobs"].values() for s in job["steps"]]
    assert any(s.startswith("actions/upload-pages-artifact") for s in steps)
    assert any(s.startswith("actions/deploy-pages") for s in steps)
