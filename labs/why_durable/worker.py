"""Worker for lesson 00. Run: python -m labs.why_durable.worker (configured through LAB_* variables)."""

from __future__ import annotations

from typing import Any

from .activities import ResearchTools
from .workflows import ResearchAgent


def worker_options(ledger: str) -> dict[str, Any]:
    """Workflows, activities and options of this lesson's worker."""
    return {
        "workflows": [ResearchAgent],
        "activities": [ResearchTools(ledger).run_step],
        # No sticky cache: after a crash the next workflow task goes straight to a live worker instead
        # of waiting for the dead worker's sticky queue to time out. The cost: every workflow task
        # replays the whole history from the start (see "In production" in notebook 00).
        "max_cached_workflows": 0,
    }


if __name__ == "__main__":
    from lab_support.workers import main

    main(worker_options)
