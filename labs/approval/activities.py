"""The planning agent's activities: draft a plan (the "model"), carry it out, or escalate."""

from __future__ import annotations

from temporalio import activity

from lab_support.ledger import Ledger


class PlanTools:
    def __init__(self, ledger: str) -> None:
        self.ledger = Ledger(ledger)

    @activity.defn(name="draft_plan")
    async def draft_plan(self, goal: str) -> list[str]:
        """The "model" drafts a three-step plan for a goal."""
        return [f"research {goal}", f"compare options for {goal}", f"write a recommendation on {goal}"]

    @activity.defn(name="execute_plan")
    async def execute_plan(self, plan: list[str]) -> str:
        """Carry the approved plan out (a side effect: one ledger row per step)."""
        info = activity.info()
        for i, step in enumerate(plan, 1):
            self.ledger.record("executed", i, step, key=info.workflow_id, attempt=info.attempt)
        return f"done: {len(plan)} steps"

    @activity.defn(name="escalate")
    async def escalate(self, reason: str) -> str:
        """Nobody answered: page a manager (a side effect)."""
        info = activity.info()
        self.ledger.record("escalated", 0, reason, key=info.workflow_id, attempt=info.attempt)
        return f"escalated: {reason}"
