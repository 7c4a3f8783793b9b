"""Worker for lesson 05. Run: python -m labs.monitor.worker (configured through LAB_* variables)."""

from __future__ import annotations

from typing import Any

from .activities import check_feed
from .workflows import Monitor, NaiveMonitor


def worker_options() -> dict[str, Any]:
    """Workflows, activities and options of this lesson's worker."""
    return {"workflows": [NaiveMonitor, Monitor], "activities": [check_feed]}


if __name__ == "__main__":
    from lab_support.workers import main

    main(worker_options)
