"""Solution 03 - a durable multi-day wait."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .activities import DigestTools
    from .exercise import FollowUpPlan


@workflow.defn(name="FollowUp")
class FollowUp:
    @workflow.run
    async def run(self, plan: FollowUpPlan) -> str:
        await workflow.execute_activity_method(DigestTools.send_reminder, f"first reminder to {plan.who}",
                                               start_to_close_timeout=timedelta(seconds=10))
        await workflow.sleep(timedelta(days=plan.wait_days))  # a timer kept by the server
        return await workflow.execute_activity_method(DigestTools.send_reminder, f"second reminder to {plan.who}",
                                                      start_to_close_timeout=timedelta(seconds=10))
