"""Worker for lesson 01. Run: python -m labs.replay.worker (configured through LAB_* variables)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .activities import classify, draft_reply, fetch_blocking, fetch_in_thread, search_docs, watch_loop
from .workflows import LoopWatch, StampedAgent, SupportAgent


def worker_options() -> dict[str, Any]:
    """Workflows, activities and options of this lesson's worker (sync `def` activities run in the executor's threads)."""
    return {"workflows": [SupportAgent, StampedAgent, LoopWatch],
            "activities": [classify, search_docs, draft_reply, fetch_blocking, fetch_in_thread, watch_loop],
            "activity_executor": ThreadPoolExecutor(max_workers=4)}


if __name__ == "__main__":
    from lab_support.workers import main

    main(worker_options)
