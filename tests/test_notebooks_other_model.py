"""The agent-loop notebook runs unchanged against another OpenAI-compatible server (OPENAI_BASE_URL).

nbmake already runs the whole notebook against the local model. What changes with OPENAI_BASE_URL is
only where the setup cell's `start_model()` points, so this runs the cells up to the notebook's third
section (setup, the crash demo, the ledger and history checks) against a second server: the cells
after it either force the local model (the fault demos) or repeat the same calls.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest
from llmock.testing import LLMockServer
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).parent.parent / "notebooks" / "11_durable_agent_loop.ipynb"


def _first_sections(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook up to (not including) its '## 3' heading."""
    end = next(i for i, c in enumerate(nb.cells) if c.cell_type == "markdown" and c.source.startswith("## 3"))
    nb.cells = nb.cells[:end]
    return nb


class _Client(NotebookClient):
    def create_kernel_manager(self):
        from conftest import ipc_sockets  # the root conftest: no TCP port race on a busy machine

        return ipc_sockets(super().create_kernel_manager())


@pytest.mark.long(15)  # seconds in a full run: started early (conftest.py)
def test_agent_loop_notebook_against_a_second_compatible_server():
    with LLMockServer(host="127.0.0.1") as other:  # unscripted: it calls an offered tool, then answers
        nb = _first_sections(nbformat.read(NOTEBOOK, as_version=4))
        old = dict(os.environ)
        os.environ.update(OPENAI_BASE_URL=other.base_url("openai"), OPENAI_API_KEY="key-for-the-other-server")
        try:
            _Client(nb, timeout=120, kernel_name="python3", allow_errors=True,
                    resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
        finally:
            os.environ.clear()
            os.environ.update(old)
        received = other.state.journal.records()
    errors = [(i, o.ename, o.evalue[:200]) for i, c in enumerate(nb.cells) if c.cell_type == "code"
              for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    assert sum(c.cell_type == "code" for c in nb.cells) >= 5, "setup, crash demo, ledger, request log, history"
    setup_output = str(nb.cells[[c.cell_type for c in nb.cells].index("code")].outputs)
    assert "Model(compatible" in setup_output and "key-for-the-other-server" not in str(nb)
    loop_calls = [r for r in received if r.path.endswith("/chat/completions") and (r.body or {}).get("tools")]
    assert len(loop_calls) >= 2, "the agent run called the other server"
    assert all(r.status == 200 for r in loop_calls)
