"""Worker for lesson 12. Run: python -m labs.research.worker (configured through LAB_* variables)."""

from __future__ import annotations

from typing import Any

from .activities import ResearchActivities
from .workflows import Executor, Planner, Validator, WeeklyResearch


def worker_options(ledger: str, search_url: str, corpus: str, store: str, reports_db: str,
                   model_url: str | None, model_name: str, model_offline: bool,
                   pace: dict[str, float] | None = None, fail_announce: bool = False,
                   flaky_retrieve: int = 0) -> dict[str, Any]:
    """Workflows, activities and limits of this lesson's worker (paths are files the activities write)."""
    acts = ResearchActivities(ledger, search_url, corpus, store, reports_db, model_url, model_name, model_offline,
                              pace, fail_announce, flaky_retrieve)
    return {
        "workflows": [Planner, Executor, Validator, WeeklyResearch],
        "activities": [acts.plan_topic, acts.search, acts.extract, acts.retrieve, acts.synthesise, acts.publish,
                       acts.announce, acts.retract, acts.escalate],
        # Concurrency limits: at most 8 activities and 4 workflow tasks at once in this process.
        "max_concurrent_activities": 8,
        "max_concurrent_workflow_tasks": 4,
        "max_cached_workflows": 0,  # a restarted worker picks up at once (see lesson 00)
    }


if __name__ == "__main__":
    from lab_support.workers import main

    main(worker_options)
