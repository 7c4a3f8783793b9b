"""Shared fixtures: one lab (embedded dev server, or TEMPORAL_ADDRESS if set) for the whole session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from lab_support.history import load_history
from lab_support.server import Lab, setup

HISTORIES = Path(__file__).parent / "fixtures" / "histories"


@pytest.fixture(scope="session")
async def lab() -> Lab:
    lab = await setup(ui=False) if not os.environ.get("TEMPORAL_ADDRESS") else await setup()
    yield lab
    await lab.close()


@pytest.fixture(scope="session")
def sink_history():
    return load_history(HISTORIES / "kitchen_sink.json")


def command_line(process) -> str:
    """A psutil process's command line as one string; "" once it has exited (a zombie has no command line)."""
    import psutil

    try:
        return " ".join(process.cmdline())
    except psutil.Error:  # ZombieProcess, NoSuchProcess: a short-lived child (a health check) that just exited
        return ""


def python_child(code: str) -> list[str]:
    """argv that runs `code` in a fresh interpreter of this environment."""
    return [sys.executable, "-c", code]
