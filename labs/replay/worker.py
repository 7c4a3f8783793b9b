"""Worker for lesson 01. Run: python -m labs.replay.worker (configured through LAB_* variables)."""

from __future__ import annotations

from typing import Any

from .activities import classify, draft_reply, search_docs
from .workflows import StampedAgent, SupportAgent


def worker_options() -> dict[str, Any]:
    """Workflows, activities and options of this lesson's worker."""
    return {"workflows": [SupportAgent, StampedAgent], "activities": [classify, search_docs, draft_reply]}


if __name__ == "__main__":
    from lab_support.workers import main

    main(worker_options)
