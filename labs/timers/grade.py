"""Check for exercise 03 on a time-skipping dev server: one durable timer of N days; a weekday Schedule."""

from __future__ import annotations

import asyncio
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path
from types import ModuleType

from temporalio.client import Client, ScheduleActionStartWorkflow, ScheduleOverlapPolicy, WorkflowFailureError
from temporalio.worker import Worker

from lab_support.exercises import NotAttempted, Verdict, not_attempted, not_yet, passed, stuck_verdict
from lab_support.history import to_frame
from lab_support.server import Lab, start_dev_server
from lab_support.workers import WorkflowTaskFailed, build_id, wait_result

from .activities import DigestTools
from .schedules import wait_actions
from .workflows import DigestRun

HINTS = [
    "`await workflow.sleep(timedelta(days=plan.wait_days))` (or `asyncio.sleep(...)` in seconds) starts a "
    "durable timer: the server fires it, even if no worker runs in between.",
    "`time.sleep` would block the worker (and the sandbox forbids it); a loop of short sleeps writes "
    "many timers into the history instead of one.",
    "A `ScheduleCalendarSpec(day_of_week=[ScheduleRange(1, 5)], hour=[ScheduleRange(8)], minute=[ScheduleRange(30)])` "
    "fires on weekdays at 08:30 UTC; an interval spec fires every N hours counted from the Unix epoch, weekends included.",
    "The overlap policy is `SchedulePolicy(overlap=ScheduleOverlapPolicy.BUFFER_ONE)`: one late run waits, later ones are skipped.",
]


async def _follow_up(lab: Lab, module: ModuleType, task_queue: str) -> Verdict | None:
    """Part 1: FollowUp(wait_days=3) with its days skipped; None when it passes."""
    handle = await lab.client.start_workflow(module.FollowUp.run, module.FollowUpPlan("ada", 3),
                                             id=f"check-followup-{uuid.uuid4().hex[:8]}", task_queue=task_queue)
    result = asyncio.ensure_future(wait_result(handle, timeout=30))
    try:
        while not result.done():  # each skipped timer costs the dev server about a second: stop a loop of many early
            await asyncio.wait({result}, timeout=0.3)
            timers = [e.timer_started_event_attributes for e in (await handle.fetch_history()).events
                      if e.HasField("timer_started_event_attributes")]
            if len(timers) >= 2 and not result.done():
                await handle.terminate("check finished")
                each = timers[0].start_to_fire_timeout.ToTimedelta()
                return not_yet(f"The history has {len(timers)} timers so far, each {each}: a 3-day wait that way "
                               f"takes {timedelta(days=3) / each:.0f} timers; one durable timer is enough.", HINTS[1])
        result.result()
    except WorkflowTaskFailed as e:
        return await stuck_verdict(handle, e, "timers", HINTS[1])
    except WorkflowFailureError as e:
        return not_yet(f"The workflow failed: {e.cause}", HINTS[0])
    finally:
        result.cancel()
    history = await handle.fetch_history()
    timers = [e.timer_started_event_attributes for e in history.events if e.HasField("timer_started_event_attributes")]
    if len(timers) != 1:
        return not_yet(f"The history has {len(timers)} timers; one durable timer is enough.", HINTS[1 if timers else 0])
    waited = timers[0].start_to_fire_timeout.ToTimedelta()
    if waited != timedelta(days=3):
        return not_yet(f"The timer is {waited}, but the plan asked for 3 days.", HINTS[0])
    frame = to_frame(history)
    order = frame.loc[frame["type"].isin(["TimerFired", "ActivityTaskScheduled"]), "type"].tolist()
    if order != ["ActivityTaskScheduled", "TimerFired", "ActivityTaskScheduled"]:
        return not_yet(f"Expected reminder, timer, reminder; the history has {order}.", HINTS[0])
    return None


async def _standup(lab: Lab, module: ModuleType, task_queue: str) -> Verdict:
    """Part 2: create the learner's schedule, read its upcoming runs and policy, trigger it once."""
    try:
        schedule = module.standup_schedule(task_queue, f"standup-{uuid.uuid4().hex[:6]}")
    except NotAttempted:
        return not_attempted("timers")
    action = schedule.action
    if not isinstance(action, ScheduleActionStartWorkflow) or action.workflow != DigestRun.__temporal_workflow_definition.name:
        return not_yet("The schedule's action must start the `DigestRun` workflow.", "`ScheduleActionStartWorkflow(DigestRun.run, ...)`")
    handle = await lab.client.create_schedule(f"check-standup-{uuid.uuid4().hex[:8]}", schedule)
    try:
        d = await handle.describe()
        upcoming = d.info.next_action_times[:7]
        wrong = [t for t in upcoming if t.weekday() > 4 or (t.hour, t.minute, t.second) != (8, 30, 0)]
        if not upcoming or wrong:
            when = (wrong or [None])[0]
            said = when.strftime("%A %H:%M UTC") if when else "never"
            return not_yet(f"The schedule's upcoming runs include {said}; a standup runs on weekdays at 08:30 UTC "
                           f"(next: {', '.join(t.strftime('%a %H:%M') for t in upcoming[:5])}).", HINTS[2])
        if d.schedule.policy.overlap != ScheduleOverlapPolicy.BUFFER_ONE:
            return not_yet(f"The overlap policy is {d.schedule.policy.overlap.name}; a late standup should wait, once.", HINTS[3])
        await handle.trigger()
        d = await wait_actions(handle, 1, timeout=30)
        run = d.info.recent_actions[-1].action
        result = await lab.client.get_workflow_handle(run.workflow_id, run_id=run.first_execution_run_id).result()
    finally:
        await handle.delete()
    return passed(f"Upcoming standups: {', '.join(t.strftime('%a %d %b %H:%M') for t in upcoming[:5])} (UTC), "
                  f"overlap BUFFER_ONE; a triggered run wrote {result!r}.")


async def grade(client: Client, module: ModuleType) -> Verdict:
    """Part 1 on a private time-skipping dev server, then part 2 on the same server."""
    del client  # days of timers need time skipping, whatever server the notebook uses
    lab = await start_dev_server(ui=False, time_skipping=True)
    tools = DigestTools(str(Path(tempfile.mkdtemp()) / "ledger.db"))
    try:
        task_queue = f"check-timers-{uuid.uuid4().hex[:8]}"
        async with Worker(lab.client, task_queue=task_queue, build_id=build_id(__file__),
                          workflows=[module.FollowUp, DigestRun],
                          activities=[tools.send_reminder, tools.write_digest]):
            verdict = await _follow_up(lab, module, task_queue)
            if verdict is not None:
                return verdict
            if not hasattr(module, "standup_schedule"):
                return not_yet("Part 1 passes; part 2 needs `standup_schedule(task_queue, workflow_id)`.", HINTS[2])
            return await _standup(lab, module, task_queue)
    finally:
        await lab.close()
