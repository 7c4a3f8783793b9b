"""Notebooks are committed clean and follow the lesson template."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
HEADINGS = ["## You will learn", "## Setup", "## Exercise", "## Summary", "## In production", "## Further reading"]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path: Path):
    nb = json.loads(path.read_text())
    dirty = [i for i, c in enumerate(nb["cells"]) if c["cell_type"] == "code" and (c.get("outputs") or c.get("execution_count"))]
    assert not dirty, f"{path.name}: cells {dirty} carry outputs; clear them before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_follows_the_lesson_template(path: Path):
    nb = json.loads(path.read_text())
    markdown = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    assert markdown[0].startswith(f"# {path.name[:2]} · "), "first cell is '# NN · Title'"
    positions = []
    for heading in HEADINGS:
        found = [i for i, text in enumerate(markdown) if any(line.strip() == heading for line in text.splitlines())]
        assert found, f"{path.name} lacks {heading!r}"
        positions.append(found[0])
    assert positions == sorted(positions), f"{path.name}: headings out of order"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_cells_meant_to_fail_are_tagged_not_commented(path: Path):
    nb = json.loads(path.read_text())
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        source = "".join(cell["source"])
        lines = [l for l in source.splitlines() if l.strip()]
        assert not lines or not all(l.lstrip().startswith("#") for l in lines), "no commented-out cells"
