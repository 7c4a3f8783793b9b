"""Exercise 03 - a follow-up agent that waits days, durably.

`FollowUp` sends a first reminder, waits `wait_days` days, then sends a second one. The wait must
survive worker crashes and deploys, and must not keep a worker busy. Replace the `todo(...)`, save,
then run the check cell in notebook 03 (it runs on the time-skipping server: days pass in a second).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from lab_support.exercises import todo

    from .activities import DigestTools


@dataclass
class FollowUpPlan:
    who: str
    wait_days: int


@workflow.defn(name="FollowUp")
class FollowUp:
    @workflow.run
    async def run(self, plan: FollowUpPlan) -> str:
        await workflow.execute_activity_method(DigestTools.send_reminder, f"first reminder to {plan.who}",
                                               start_to_close_timeout=timedelta(seconds=10))
        # TODO: wait `plan.wait_days` days with a durable timer (not time.sleep, not a busy loop).
        todo("wait plan.wait_days days durably")
        return await workflow.execute_activity_method(DigestTools.send_reminder, f"second reminder to {plan.who}",
                                                      start_to_close_timeout=timedelta(seconds=10))
