"""The naive agent: a plain loop in a plain process. Run: python -m labs.why_durable.naive LEDGER."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

from .steps import STEPS, perform


async def agent_loop(ledger_path: str) -> list[str]:
    """Run all steps in order. Progress lives only in this process's memory."""
    notes = []
    for step in range(1, len(STEPS) + 1):
        notes.append(await perform(step, ledger_path, actor="naive"))
    return notes


def start(ledger_path: str | Path) -> subprocess.Popen[bytes]:
    """Start the naive agent as its own OS process (so it can really be SIGKILLed)."""
    from lab_support.procs import spawn
    from lab_support.server import _log_dir

    return spawn([sys.executable, "-m", "labs.why_durable.naive", str(ledger_path)], _log_dir() / "naive-agent.log")


if __name__ == "__main__":
    from lab_support.procs import watch_parent

    watch_parent()
    asyncio.run(agent_loop(sys.argv[1]))
