"""Worker for lesson 02. Run: python -m labs.retries.worker (configured through LAB_* variables)."""

from __future__ import annotations

from typing import Any

from .activities import Tools
from .workflows import AskModel, SendReport


def worker_options(ledger: str, model_url: str | None, model_name: str, model_offline: bool) -> dict[str, Any]:
    """Workflows, activities and options of this lesson's worker."""
    tools = Tools(model_url, model_name, model_offline, ledger)
    return {"workflows": [AskModel, SendReport], "activities": [tools.ask_model, tools.send_email]}


if __name__ == "__main__":
    from lab_support.workers import main

    main(worker_options)
