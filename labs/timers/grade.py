"""Check for exercise 03: on the time-skipping server, the wait must be one durable timer of N days."""

from __future__ import annotations

import tempfile
import uuid
from datetime import timedelta
from pathlib import Path
from types import ModuleType

from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Worker

from lab_support.exercises import Verdict, not_yet, passed, stuck_verdict
from lab_support.history import to_frame
from lab_support.server import start_time_skipping
from lab_support.workers import WorkflowTaskFailed, wait_result

from .activities import DigestTools

HINTS = [
    "`await workflow.sleep(timedelta(days=plan.wait_days))` (or `asyncio.sleep(...)` in seconds) starts a "
    "durable timer: the server fires it, even if no worker runs in between.",
    "`time.sleep` would block the worker (and the sandbox forbids it); a loop of short sleeps writes "
    "many timers into the history instead of one.",
]


async def grade(client: Client, module: ModuleType) -> Verdict:
    """Run FollowUp(wait_days=3) with days skipped; judge the timers in its history."""
    del client  # timers of days need the time-skipping server, whatever the notebook uses
    lab = await start_time_skipping()
    tools = DigestTools(str(Path(tempfile.mkdtemp()) / "ledger.db"))
    try:
        task_queue = f"check-timers-{uuid.uuid4().hex[:8]}"
        async with Worker(lab.client, task_queue=task_queue, workflows=[module.FollowUp],
                          activities=[tools.send_reminder]):
            handle = await lab.client.start_workflow(module.FollowUp.run, module.FollowUpPlan("ada", 3),
                                                     id=f"check-followup-{uuid.uuid4().hex[:8]}", task_queue=task_queue)
            try:
                await wait_result(handle, timeout=30)
            except WorkflowTaskFailed as e:
                return await stuck_verdict(handle, e, "timers", HINTS[1])
            except WorkflowFailureError as e:
                return not_yet(f"The workflow failed: {e.cause}", HINTS[0])
            history = await handle.fetch_history()
    finally:
        await lab.close()
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
    return passed(f"One durable timer of {waited.days} days between the two reminders; "
                  f"the run took {frame['t'].iloc[-1] / 86400:.1f} days of workflow time.")
