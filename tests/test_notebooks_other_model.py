"""The model-dependent notebooks run unchanged against another OpenAI-compatible server (OPENAI_BASE_URL)."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
from llmock.testing import LLMockServer
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).parent.parent / "notebooks"


def test_agent_loop_notebook_against_a_second_compatible_server():
    with LLMockServer(host="127.0.0.1") as other:  # unscripted: it calls an offered tool, then answers
        nb = nbformat.read(NOTEBOOKS / "11_durable_agent_loop.ipynb", as_version=4)
        old = dict(os.environ)
        os.environ.update(OPENAI_BASE_URL=other.base_url("openai"), OPENAI_API_KEY="key-for-the-other-server")
        try:
            NotebookClient(nb, timeout=180, kernel_name="python3", allow_errors=True,
                           resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
        finally:
            os.environ.clear()
            os.environ.update(old)
        received = other.state.journal.records()
    errors = [(i, o.ename) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error" and "raises-exception" not in c.metadata.get("tags", [])]
    assert not errors, errors
    setup_output = str(nb.cells[[c.cell_type for c in nb.cells].index("code")].outputs)
    assert "Model(compatible" in setup_output and "key-for-the-other-server" not in str(nb)
    loop_calls = [r for r in received if r.path.endswith("/chat/completions") and (r.body or {}).get("tools")]
    assert len(loop_calls) >= 4, "both agent runs called the other server"
    assert all(r.status == 200 for r in loop_calls)
