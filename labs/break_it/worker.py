"""Lesson 00's worker (same workflow, same activities) with a chosen pace, for the chaos panel's "now you try".

Run: python -m labs.break_it.worker (configured through LAB_* variables).
"""

from __future__ import annotations

from typing import Any

from labs.why_durable import steps
from labs.why_durable.worker import worker_options as lesson_options


def worker_options(ledger: str, step_seconds: float = steps.STEP_SECONDS) -> dict[str, Any]:
    """Lesson 00's worker options; each tool call takes `step_seconds` s (in this worker process only)."""
    steps.STEP_SECONDS = step_seconds  # `perform` reads it at each call
    return lesson_options(ledger)


if __name__ == "__main__":
    from lab_support.workers import main

    main(worker_options)
