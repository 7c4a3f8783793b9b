"""The notebook checks in the root conftest.py fail a notebook run that breaks the output rules.

nbmake executes every lesson once; the conftest reads that execution. Here it runs (in a child
pytest, as the suite does) on tiny notebooks that break each rule, and on one that keeps them.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent


def _notebook(folder: Path, name: str, *cells: tuple[str, list[str]]) -> None:
    nb = new_notebook(cells=[new_code_cell(src, metadata={"tags": tags}) for src, tags in cells])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(folder / name))


@pytest.mark.long(20)  # seconds in a full run: started early (conftest.py)
def test_stderr_and_a_silent_tagged_cell_fail_the_run_a_clean_notebook_passes(tmp_path: Path):
    shutil.copy(ROOT / "conftest.py", tmp_path / "conftest.py")
    _notebook(tmp_path, "a_stderr.ipynb", ("import sys; print('oops', file=sys.stderr)", []))
    _notebook(tmp_path, "b_tagged_quiet.ipynb", ("x = 1", ["raises-exception"]))
    _notebook(tmp_path, "c_noise.ipynb", ("print('2026-01-01T00:00:00Z WARN temporalio_sdk_core: x')", []))
    _notebook(tmp_path, "d_clean.ipynb", ("print('hello')", []), ("1 / 0", ["raises-exception"]),
              ("from ipykernel.kernelapp import IPKernelApp\nprint(IPKernelApp.instance().transport)", []))
    run = subprocess.run([sys.executable, "-m", "pytest", "--nbmake", "-p", "no:cacheprovider", "-q", "-rA",
                          "-o", "addopts=", "-o", "testpaths=.", str(tmp_path)],
                         cwd=tmp_path, capture_output=True, text=True, timeout=170)
    out = run.stdout
    shown = f"the child run printed:\n{out[-6000:]}"  # its end: the failures' reasons, then the summary
    assert run.returncode == 1, shown
    assert "FAILED a_stderr.ipynb" in out and "wrote to stderr" in out, shown
    assert "FAILED b_tagged_quiet.ipynb" in out and "tagged raises-exception but raised nothing" in out, shown
    assert "FAILED c_noise.ipynb" in out and "log noise" in out, shown
    assert "PASSED d_clean.ipynb" in out, shown
    kept = tmp_path / "_build" / "book" / "executed"
    assert sorted(p.name for p in kept.glob("*.ipynb")) == ["a_stderr.ipynb", "b_tagged_quiet.ipynb",
                                                            "c_noise.ipynb", "d_clean.ipynb"]
    clean = nbformat.read(str(kept / "d_clean.ipynb"), as_version=4)
    assert clean.metadata["lab_book"]["passed"] is True and clean.cells[0].outputs[0].text == "hello\n"
    assert clean.cells[2].outputs[0].text == "ipc\n", "the kernel talks over IPC files, not TCP ports that can be taken"
    assert nbformat.read(str(kept / "a_stderr.ipynb"), as_version=4).metadata["lab_book"]["passed"] is False
