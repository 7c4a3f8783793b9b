"""Exercise 03 - a follow-up agent that waits days, durably; and a standup digest on a Schedule.

Part 1. `FollowUp` sends a first reminder, waits `wait_days` days, then sends a second one. The wait must
survive worker crashes and deploys, and must not keep a worker busy.

Part 2. `standup_schedule` returns the Schedule for a standup digest: one `DigestRun` every weekday
(Monday to Friday) at 08:30 UTC, and if a run is still going when the next is due, keep one waiting
(buffer it) rather than skip it or run both at once.

Replace the `todo(...)`s, save, then run the check cell in notebook 03 (it runs on a time-skipping dev
server: days pass in about a second each).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.client import (  # noqa: F401 - what part 2 needs
    Schedule, ScheduleActionStartWorkflow, ScheduleCalendarSpec, ScheduleOverlapPolicy, SchedulePolicy, ScheduleRange,
    ScheduleSpec,
)

with workflow.unsafe.imports_passed_through():
    from lab_support.exercises import todo

    from .activities import DigestTools
    from .workflows import DigestJob, DigestRun  # noqa: F401 - what part 2 needs


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


def standup_schedule(task_queue: str, workflow_id: str) -> Schedule:
    """Weekdays 08:30 UTC: start `DigestRun(DigestJob("standup"))` with this id on this task queue; buffer one overlap."""
    # TODO: Schedule(action=ScheduleActionStartWorkflow(...), spec=ScheduleSpec(calendars=[...]),
    #       policy=SchedulePolicy(overlap=...)). Day 0 is Sunday; ScheduleRange(1, 5) is Monday to Friday.
    return todo("build the standup schedule")
