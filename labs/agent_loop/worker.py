"""Worker for lesson 11's hand-written loop. Run: python -m labs.agent_loop.worker (LAB_* variables)."""

from __future__ import annotations

from typing import Any

from .activities import AgentActivities
from .workflows import ResearchLoop


def worker_options(ledger: str, model_url: str | None, model_name: str, model_offline: bool) -> dict[str, Any]:
    """Workflows, activities and options of this lesson's worker."""
    acts = AgentActivities(model_url, model_name, model_offline, ledger)
    return {
        "workflows": [ResearchLoop],
        "activities": [acts.call_model, acts.search_web, acts.read_page],
        # No sticky cache: a restarted worker picks up at once (lesson 00). The cost: every workflow task
        # replays the whole history, model calls' conversations included.
        "max_cached_workflows": 0,
    }


if __name__ == "__main__":
    from lab_support.workers import main

    main(worker_options)
