"""Workers for lesson 10: role "agent" runs the workflow (+ tools); role "llm" runs only model calls;
role "cost" runs the cost-of-durability workflows; role "jobs" runs queued jobs (priority and fairness);
role "standalone" runs the one-shot model call (a standalone activity).

Run: python -m labs.scaling.worker (configured through LAB_* variables).
"""

from __future__ import annotations

from typing import Any

from .activities import call_llm, run_tool
from .workflows import AgentBurst


def worker_options(role: str = "agent", max_concurrent: int = 2, ledger: str = "") -> dict[str, Any]:
    """A worker for one role; `max_concurrent` caps activities in flight per worker (a concurrency limit)."""
    if role == "llm":
        return {"activities": [call_llm, run_tool], "max_concurrent_activities": max_concurrent}
    if role == "cost":
        from .cost import AddOne, Steps, add_one_activity

        return {"workflows": [Steps, AddOne], "activities": [add_one_activity]}
    if role == "standalone":
        from .standalone import SummaryTools

        return {"activities": [SummaryTools(ledger).summarize]}
    if role == "jobs":
        from .queueing import job

        return {"activities": [job], "max_concurrent_activities": max_concurrent}
    return {"workflows": [AgentBurst], "activities": [run_tool], "max_concurrent_activities": max_concurrent}


if __name__ == "__main__":
    from lab_support.workers import main

    main(worker_options)
