"""Worker for lesson 06. Run: python -m labs.multi_agent.worker (configured through LAB_* variables)."""

from __future__ import annotations

from typing import Any

from .activities import TeamTools
from .workflows import Executor, LongExecutor, Planner, RetriedPlanner, Reviewer, Validator


def worker_options(ledger: str, task_seconds: float = 0.6) -> dict[str, Any]:
    """Workflows, activities and options of this lesson's worker."""
    tools = TeamTools(ledger, task_seconds)
    return {"workflows": [Planner, Executor, Validator, Reviewer, RetriedPlanner, LongExecutor],
            "activities": [tools.plan_tasks, tools.do_task, tools.long_task, tools.validate, tools.review]}


if __name__ == "__main__":
    from lab_support.workers import main

    main(worker_options)
