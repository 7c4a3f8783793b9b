"""Notebooks are committed clean and follow the lesson template."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
HEADINGS = ["## You will learn", "## Setup", "## Exercise", "## Summary", "## In production", "## Further reading"]


def test_there_are_notebooks():
    assert len(NOTEBOOKS) >= 2


ROOT = Path(__file__).parent.parent


def _committed(path: Path) -> str:
    """The notebook as git will commit it (the index blob); the file itself outside git or when untracked."""
    shown = subprocess.run(["git", "show", f":{path.relative_to(ROOT)}"], cwd=ROOT, capture_output=True, text=True)
    return shown.stdout if shown.returncode == 0 else path.read_text()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_without_outputs(path: Path):
    nb = json.loads(_committed(path))  # what JupyterLab autosaves in the working file does not count
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


def test_the_git_filter_strips_outputs_that_jupyterlab_autosaves():
    """tasks.py installs nbstripout as the notebooks' clean filter: staged notebooks lose their outputs."""
    clean = subprocess.run(["git", "config", "filter.nbstripout.clean"], cwd=ROOT, capture_output=True, text=True)
    if clean.returncode != 0:
        pytest.skip("not a git clone set up by tasks.py")
    attr = subprocess.run(["git", "check-attr", "filter", str(NOTEBOOKS[0].relative_to(ROOT))], cwd=ROOT,
                          capture_output=True, text=True).stdout
    assert attr.strip().endswith("nbstripout"), attr
    nb = json.loads(NOTEBOOKS[0].read_text())
    code = next(c for c in nb["cells"] if c["cell_type"] == "code")
    code["outputs"], code["execution_count"] = [{"output_type": "stream", "name": "stdout", "text": ["hi\n"]}], 7
    nb["metadata"]["language_info"] = {"name": "python", "version": "3.11.7", "pygments_lexer": "ipython3",
                                       "codemirror_mode": {"name": "ipython", "version": 3}}  # what JupyterLab adds
    stripped = subprocess.run(clean.stdout.strip(), shell=True, input=json.dumps(nb), capture_output=True,
                              text=True, cwd=ROOT, check=True).stdout
    assert json.loads(stripped) == json.loads(NOTEBOOKS[0].read_text()), "outputs and language_info stripped, ids kept"
