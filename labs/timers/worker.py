"""Worker for lesson 03. Run: python -m labs.timers.worker (configured through LAB_* variables)."""

from __future__ import annotations

from typing import Any

from .activities import DigestTools
from .workflows import DigestRun, WeeklyForever, WeeklyResearch


def worker_options(ledger: str) -> dict[str, Any]:
    """Workflows, activities and options of this lesson's worker."""
    tools = DigestTools(ledger)
    return {"workflows": [WeeklyResearch, DigestRun, WeeklyForever], "activities": [tools.write_digest, tools.send_reminder],
            "max_cached_workflows": 0}


if __name__ == "__main__":
    from lab_support.workers import main

    main(worker_options)
