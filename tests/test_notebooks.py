"""The notebook pipeline: manifest, jupytext pairs, executed outputs, set-up cell, badge, anatomy.

Non-destructive: reads both files of each pair with jupytext and compares them (``jupytext --test``
exits 0 even when a pair differs, and ``--sync`` may overwrite an edit).
"""
from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import jupytext
import nbformat
import pytest

from conftest import ROOT, manifest

NOTEBOOKS = manifest.notebooks()
IDS = [nb.path for nb in NOTEBOOKS]


def _cells(nb):
    return [(c.cell_type, c.source.strip(), sorted(c.metadata.get("tags", []))) for c in nb.cells]


def test_manifest_lists_every_notebook_exactly_once():
    listed = Counter(nb.path for nb in NOTEBOOKS)
    assert listed, "book.toml lists no notebooks"
    dupes = [p for p, n in listed.items() if n > 1]
    assert not dupes, f"listed more than once in book.toml: {dupes}"
    on_disk = {str(p.relative_to(ROOT)) for p in ROOT.glob("chapters/**/*.ipynb")
               if ".ipynb_checkpoints" not in p.parts}
    assert on_disk == set(listed), (
        f"not in book.toml: {sorted(on_disk - set(listed))}; missing on disk: {sorted(set(listed) - on_disk)}")


def test_chapters_are_numbered_in_order():
    numbers = [nb.chapter_number for nb in NOTEBOOKS]
    assert numbers == sorted(numbers)
    for nb in NOTEBOOKS:
        folder = Path(nb.path).parts[1]
        assert folder.startswith(f"{nb.chapter_number:02d}_"), f"{nb.path}: folder must start with the chapter number"


def test_every_py_has_its_ipynb():
    for py in ROOT.glob("chapters/**/*.py"):
        assert py.with_suffix(".ipynb").exists(), f"{py} has no paired .ipynb"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=IDS)
def test_pair_in_sync(nb):
    ipynb = jupytext.read(ROOT / nb.path)
    py = jupytext.read(ROOT / nb.py_path)
    a, b = _cells(ipynb), _cells(py)
    assert len(a) == len(b), f"{nb.path}: {len(a)} cells vs {len(b)} in the .py (run `make sync`)"
    for i, (ca, cb) in enumerate(zip(a, b)):
        assert ca == cb, f"{nb.path}: cell {i} differs between .ipynb and .py (run `make sync`)"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=IDS)
def test_committed_notebook_is_executed_in_order(nb):
    notebook = nbformat.read(ROOT / nb.path, as_version=4)
    counts = [c.execution_count for c in notebook.cells if c.cell_type == "code"]
    assert counts, f"{nb.path} has no code cell"
    assert None not in counts, f"{nb.path}: some code cells were never executed (nbval would skip them)"
    assert counts == list(range(1, len(counts) + 1)), f"{nb.path}: not executed top to bottom in one run"
    for i, cell in enumerate(notebook.cells):
        if cell.cell_type != "code" or "raises-exception" in cell.metadata.get("tags", []):
            continue
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert not errors, f"{nb.path}: cell {i} was committed with an error: {errors[0].get('ename')}"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=IDS)
def test_setup_cell_and_badge(nb):
    notebook = nbformat.read(ROOT / nb.path, as_version=4)
    code = [c for c in notebook.cells if c.cell_type == "code"]
    setup = code[0]
    assert setup.source.strip() == manifest.setup_cell_source().strip(), (
        f"{nb.path}: the first code cell must be the standard set-up cell (book/manifest.py)")
    assert set(manifest.SETUP_TAGS) <= set(setup.metadata.get("tags", []))
    assert "%" not in setup.source and "!" not in setup.source, "set-up cell must be plain Python"
    pip_lines = [line for line in setup.source.splitlines() if "pip" in line]
    assert pip_lines and not any("torch" in line for line in pip_lines), "set-up cell must never install torch"
    assert " -U" not in setup.source and "--upgrade" not in setup.source
    badge = manifest.badge_markdown(nb.path)
    badge_cells = [c for c in notebook.cells if c.cell_type == "markdown" and badge in c.source]
    assert len(badge_cells) == 1, f"{nb.path}: needs exactly one Colab badge cell: {badge}"
    assert set(manifest.BADGE_TAGS) <= set(badge_cells[0].metadata.get("tags", []))


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=IDS)
def test_notebook_anatomy(nb):
    notebook = nbformat.read(ROOT / nb.path, as_version=4)
    md = [c.source for c in notebook.cells if c.cell_type == "markdown"]
    title = next((s for s in md if s.lstrip().startswith("# ")), "")
    assert re.match(rf"#\s+{nb.chapter_number}\.\d+\s+\S", title.lstrip()), (
        f"{nb.path}: the title must read '# {nb.chapter_number}.k Title', got {title[:60]!r}")
    text = "\n".join(md)
    for heading in ("Read alongside", "## Summary"):
        assert heading in text, f"{nb.path}: missing '{heading}'"
    if nb.chapter_number > 0:
        assert "## Papers in this" in text, f"{nb.path}: missing '## Papers in this chapter'"


def _chapter_exercises():
    per_chapter = Counter()
    for nb in NOTEBOOKS:
        notebook = nbformat.read(ROOT / nb.path, as_version=4)
        for cell in notebook.cells:
            tags = cell.metadata.get("tags", [])
            if "solution" in tags:
                assert cell.cell_type == "code" and "hide-input" in tags, f"{nb.path}: solutions are folded code cells"
                assert "assert" in cell.source and "dl.exercises.check" in cell.source, (
                    f"{nb.path}: a solution cell must assert that the checker accepts it")
                per_chapter[nb.chapter_number] += 1
    return per_chapter


def test_each_chapter_has_checked_exercises():
    per_chapter = _chapter_exercises()
    for number in {nb.chapter_number for nb in NOTEBOOKS if nb.chapter_number > 0}:
        assert per_chapter[number] >= 3, f"chapter {number} has {per_chapter[number]} exercises, needs >= 3"


@pytest.mark.parametrize("nb", NOTEBOOKS, ids=IDS)
def test_exercise_stubs_run_unfilled(nb):
    # Every exercise stub is followed by a checker cell; the stub must not raise when left empty.
    notebook = nbformat.read(ROOT / nb.path, as_version=4)
    for cell in notebook.cells:
        if "exercise" in cell.metadata.get("tags", []):
            assert cell.cell_type == "code"
            assert "raises-exception" not in cell.metadata.get("tags", [])
            assert not [o for o in cell.outputs if o.output_type == "error"]
