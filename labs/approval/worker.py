"""Worker for lesson 04. Run: python -m labs.approval.worker (configured through LAB_* variables)."""

from __future__ import annotations

from typing import Any

from .activities import PlanTools
from .workflows import PlanApproval


def worker_options(ledger: str) -> dict[str, Any]:
    """Workflows, activities and options of this lesson's worker."""
    tools = PlanTools(ledger)
    return {"workflows": [PlanApproval], "activities": [tools.draft_plan, tools.execute_plan, tools.escalate]}


if __name__ == "__main__":
    from lab_support.workers import main

    main(worker_options)
