"""Worker for lesson 05. Run: python -m labs.monitor.worker (configured through LAB_* variables)."""

from __future__ import annotations

from typing import Any

from .activities import check_feed, fetch_page
from .workflows import HandOver, Helper, Monitor, NaiveMonitor, SuggestionProbe


def worker_options() -> dict[str, Any]:
    """Workflows, activities and options of this lesson's worker."""
    return {"workflows": [NaiveMonitor, Monitor, SuggestionProbe, HandOver, Helper],
            "activities": [check_feed, fetch_page]}


if __name__ == "__main__":
    from lab_support.workers import main

    main(worker_options)
