"""The book: kept executed notebooks are reused while their cells are unchanged, and rendered to HTML."""

from __future__ import annotations

import base64

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from lab_support import book

PNG = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ff"
    "ff3f0005fe02fea7d6a4d40000000049454e44ae426082")).decode()


def _lesson(folder, name="00_demo.ipynb", text="print(1)"):
    nb = new_notebook(cells=[new_markdown_cell("# 00 · Demo\n\nintro"),
                             new_markdown_cell("## You will learn\n- one thing;\n- another."),
                             new_code_cell(text)])
    path = folder / name
    nbformat.write(nb, str(path))
    return path, nb


def test_fresh_copies_are_reused_stale_ones_rerun_and_all_rendered(tmp_path, monkeypatch):
    for name, value in (("NOTEBOOKS", tmp_path / "nb"), ("BOOK", tmp_path / "book"),
                        ("EXECUTED", tmp_path / "book" / "executed")):
        monkeypatch.setattr(book, name, value)
        value.mkdir(parents=True, exist_ok=True)
    source, nb = _lesson(book.NOTEBOOKS)
    assert book.stale([source]) == [source], "no executed copy yet"
    nb.cells[2].outputs = [new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})]
    nb.metadata["lab_book"] = {"source_sha256": book.source_digest(source), "passed": True, "seconds": 3.2}
    nbformat.write(nb, str(book.EXECUTED / source.name))
    assert book.stale([source]) == []

    index = book.render()
    page = (book.BOOK / "00_demo.html").read_text()
    assert f"data:image/png;base64,{PNG}" in page, "the picture is in the page"
    text = index.read_text()
    assert 'href="00_demo.html"' in text and "00 · Demo" in text and "another." in text and "3 s" in text

    _lesson(book.NOTEBOOKS, text="print(2)")  # the learner's cell changed: the kept copy is stale
    assert book.stale([source]) == [source]
