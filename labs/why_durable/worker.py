"""Worker for lesson 00. Run: python -m labs.why_durable.worker (configured through LAB_* variables)."""

from __future__ import annotations

from typing import Any

from .activities import ResearchTools
from .steps import STEP_SECONDS
from .workflows import ResearchAgent


def worker_options(ledger: str, step_seconds: float = STEP_SECONDS) -> dict[str, Any]:
    """Workflows, activities and options of this lesson's worker; each tool call takes `step_seconds` s
    (slower for the "now you try" section, so a person has time to press a button)."""
    return {
        "workflows": [ResearchAgent],
        "activities": [ResearchTools(ledger, step_seconds).run_step],
        # No sticky cache: after a crash the next workflow task goes straight to a live worker instead
        # of waiting for the dead worker's sticky queue to time out. The cost: every workflow task
        # replays the whole history from the start (see "In production" in notebook 00).
        "max_cached_workflows": 0,
    }


if __name__ == "__main__":
    from lab_support.workers import main

    main(worker_options)
