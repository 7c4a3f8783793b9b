"""`python3 tasks.py book`: the executed course as static HTML, one page per lesson and an index.

The test run keeps every notebook nbmake executed in `_build/book/executed/` (see the root conftest.py).
The book reuses a kept copy while its notebook's cells are unchanged, runs the others (through the same
nbmake run, so they are checked too), and renders all of them with nbconvert into `_build/book/`.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
BOOK = ROOT / "_build" / "book"
EXECUTED = BOOK / "executed"


def source_digest(path: Path) -> str:
    """sha256 (hex) of a notebook's cells (type, source, tags): an executed copy is fresh while it matches."""
    nb = json.loads(Path(path).read_text())
    cells = [(c["cell_type"], "".join(c["source"]), c.get("metadata", {}).get("tags", [])) for c in nb["cells"]]
    return hashlib.sha256(json.dumps(cells).encode()).hexdigest()


def stale(notebooks: list[Path]) -> list[Path]:
    """The notebooks with no kept executed copy that passed and matches their current cells."""
    out = []
    for path in notebooks:
        kept = EXECUTED / path.name
        meta = json.loads(kept.read_text()).get("metadata", {}).get("lab_book", {}) if kept.exists() else {}
        if not (meta.get("passed") and meta.get("source_sha256") == source_digest(path)):
            out.append(path)
    return out


def _title_and_goals(nb: dict) -> tuple[str, list[str]]:
    texts = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown"]
    title = texts[0].splitlines()[0].lstrip("# ").strip() if texts else "?"
    goals: list[str] = []
    for text in texts:
        lines = text.splitlines()
        if lines and lines[0].strip() == "## You will learn":
            goals = [line[2:].strip() for line in lines[1:] if line.startswith("- ")]
            break
    return title, goals


def render() -> Path:
    """Render every kept executed notebook to `_build/book/NN_name.html` plus `index.html`; returns the index path."""
    from nbconvert import HTMLExporter

    exporter = HTMLExporter()
    rows = []
    for path in sorted(EXECUTED.glob("*.ipynb")):
        if not (NOTEBOOKS / path.name).exists():
            continue  # a lesson that was renamed or removed
        body, _ = exporter.from_filename(str(path))
        page = BOOK / f"{path.stem}.html"
        page.write_text(body)
        nb = json.loads(path.read_text())
        title, goals = _title_and_goals(nb)
        seconds = nb.get("metadata", {}).get("lab_book", {}).get("seconds")
        learn = "".join(f"<li>{html.escape(g)}</li>" for g in goals)
        rows.append(f'<li><a href="{page.name}">{html.escape(title)}</a>'
                    f'<span class="t">{"" if seconds is None else f" · ran in {seconds:.0f} s"}</span><ul>{learn}</ul></li>')
    index = BOOK / "index.html"
    index.write_text(
        "<!doctype html><meta charset='utf-8'><title>Durable Agents Lab</title>"
        "<style>body{font-family:sans-serif;max-width:52rem;margin:2rem auto;line-height:1.4}"
        "li{margin:.6rem 0}.t{color:#777;font-size:.9em}ul ul{font-size:.9em;color:#333}</style>"
        "<h1>Durable Agents Lab — the executed course</h1>"
        "<p>Every lesson as the test run executed it, pictures included. Run them yourself with "
        "<code>python3 tasks.py lab</code>.</p><ol>" + "".join(rows) + "</ol>"
    )
    return index


def main(argv: list[str]) -> int:
    """Run the stale notebooks (pytest --nbmake, which keeps them), then render the book; exit status 0 or 1."""
    notebooks = sorted(NOTEBOOKS.glob("*.ipynb"))
    todo = stale(notebooks)
    if todo:
        print(f"Running {len(todo)} notebook(s) with no fresh executed copy: {', '.join(p.stem for p in todo)}", flush=True)
        workers = os.environ.get("LAB_TEST_WORKERS", "2")
        subprocess.run([sys.executable, "-m", "pytest", "--nbmake", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                        "-n", workers, *map(str, todo)], cwd=ROOT)
    missing = stale(notebooks)
    index = render()
    print(f"The book: {index}  ({len(notebooks) - len(missing)} of {len(notebooks)} lessons)")
    if missing:
        print(f"error: these notebooks failed, so the book shows their last passing run or nothing: "
              f"{', '.join(p.stem for p in missing)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
