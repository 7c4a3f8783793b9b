"""An agent that drafts a plan and waits for a human: approve, reject or redirect; edit; or time out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .activities import PlanTools

CALL = {"start_to_close_timeout": timedelta(seconds=10)}


@dataclass
class Goal:
    text: str
    approval_timeout_seconds: float = 3600.0


@dataclass
class Status:
    stage: str  # drafting | waiting for approval | executing | done | rejected | escalated
    goal: str
    plan: list[str] = field(default_factory=list)
    revisions: int = 0


@workflow.defn
class PlanApproval:
    def __init__(self) -> None:
        self.status = Status("drafting", "")
        self.decision: str | None = None
        self.reason = ""
        self.new_goal: str | None = None

    @workflow.signal
    def approve(self) -> None:
        self.decision = "approve"

    @workflow.signal
    def reject(self, reason: str) -> None:
        self.decision, self.reason = "reject", reason

    @workflow.signal
    def redirect(self, new_goal: str) -> None:
        self.new_goal = new_goal

    @workflow.query
    def state(self) -> Status:
        return self.status

    @workflow.update
    def edit_plan(self, plan: list[str]) -> list[str]:
        """Replace the plan; returns the plan now in force."""
        self.status.plan = list(plan)
        self.status.revisions += 1
        return self.status.plan

    @edit_plan.validator
    def check_plan(self, plan: list[str]) -> None:
        """Runs before the update is accepted: a rejected update leaves no trace in the history."""
        if not plan or not all(step.strip() for step in plan):
            raise ValueError("a plan needs at least one non-empty step")
        if self.status.stage != "waiting for approval":
            raise ValueError(f"the plan cannot change while {self.status.stage}")

    @workflow.run
    async def run(self, goal: Goal) -> str:
        self.status = Status("drafting", goal.text)
        self.status.plan = await workflow.execute_activity_method(PlanTools.draft_plan, goal.text, **CALL)
        self.status.stage = "waiting for approval"
        while True:
            try:
                await workflow.wait_condition(lambda: self.decision is not None or self.new_goal is not None,
                                              timeout=timedelta(seconds=goal.approval_timeout_seconds))
            except TimeoutError:
                self.status.stage = "escalated"
                return await workflow.execute_activity_method(
                    PlanTools.escalate, f"no answer on {goal.text!r}", **CALL)
            if self.new_goal is not None and self.decision is None:  # redirect: draft again, keep waiting
                self.status.goal, self.new_goal = self.new_goal, None
                self.status.plan = await workflow.execute_activity_method(PlanTools.draft_plan, self.status.goal, **CALL)
                self.status.revisions += 1
                continue
            break
        if self.decision == "reject":
            self.status.stage = "rejected"
            return f"rejected: {self.reason}"
        self.status.stage = "executing"
        result = await workflow.execute_activity_method(PlanTools.execute_plan, self.status.plan, **CALL)
        self.status.stage = "done"
        return result
