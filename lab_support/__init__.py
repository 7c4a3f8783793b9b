"""Helpers for the Durable Agents Lab notebooks: server, workers, history, plots, ledger, llm, exercises.

Importing this package is cheap; each helper module is imported when first used.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "setup": "server", "LabError": "server", "Lab": "server", "ServerProcess": "server",
    "KernelWorker": "workers", "SubprocessWorker": "workers", "wait_result": "workers", "wait_running": "workers",
    "diagnose": "workers",
    "fetch_history": "history", "to_frame": "history", "save_history": "history", "load_history": "history",
    "wait_event": "history", "fetch_runs": "history",
    "timeline": "plots", "growth": "plots",
    "Ledger": "ledger",
    "check": "exercises", "hint": "exercises", "solution": "exercises",
}


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)


__all__ = sorted(_EXPORTS)
