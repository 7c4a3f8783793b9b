"""Run each notebook once more and read its outputs: no log noise, errors only where a cell is tagged."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = sorted((Path(__file__).parent.parent / "notebooks").glob("*.ipynb"))
NOISE = ("WARN", "level=", "temporalio_sdk_core", "Traceback")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_outputs_are_clean(path: Path):
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        tagged = "raises-exception" in cell.metadata.get("tags", [])
        errors = [o for o in cell.outputs if o.output_type == "error"]
        assert bool(errors) == tagged, f"cell {index}: {'no error although tagged' if tagged else errors[:1]}"
        for out in cell.outputs:
            assert not (out.output_type == "stream" and out.name == "stderr"), f"cell {index} wrote to stderr: {out.text[:300]}"
            text = out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
            assert not any(word in text for word in NOISE), f"cell {index} output has log noise: {text[:300]}"
