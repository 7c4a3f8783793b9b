"""Solution 03 - a durable multi-day wait, and a weekday Schedule."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.client import (
    Schedule, ScheduleActionStartWorkflow, ScheduleCalendarSpec, ScheduleOverlapPolicy, SchedulePolicy, ScheduleRange,
    ScheduleSpec,
)

with workflow.unsafe.imports_passed_through():
    from .activities import DigestTools
    from .exercise import FollowUpPlan
    from .workflows import DigestJob, DigestRun


@workflow.defn(name="FollowUp")
class FollowUp:
    @workflow.run
    async def run(self, plan: FollowUpPlan) -> str:
        await workflow.execute_activity_method(DigestTools.send_reminder, f"first reminder to {plan.who}",
                                               start_to_close_timeout=timedelta(seconds=10))
        await workflow.sleep(timedelta(days=plan.wait_days))  # a timer kept by the server
        return await workflow.execute_activity_method(DigestTools.send_reminder, f"second reminder to {plan.who}",
                                                      start_to_close_timeout=timedelta(seconds=10))


def standup_schedule(task_queue: str, workflow_id: str) -> Schedule:
    """Weekdays 08:30 UTC: start `DigestRun(DigestJob("standup"))` with this id on this task queue; buffer one overlap."""
    return Schedule(
        action=ScheduleActionStartWorkflow(DigestRun.run, DigestJob("standup"), id=workflow_id, task_queue=task_queue),
        spec=ScheduleSpec(calendars=[ScheduleCalendarSpec(
            day_of_week=[ScheduleRange(1, 5)], hour=[ScheduleRange(8)], minute=[ScheduleRange(30)], second=[ScheduleRange(0)])]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE),
    )
