"""Check for exercise 01: runs the learner's TriageAgent on a real worker, then replays its history."""

from __future__ import annotations

import uuid
from datetime import timedelta
from types import ModuleType

from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Replayer, Worker

from lab_support.exercises import Verdict, not_yet, passed, stuck_verdict
from lab_support.history import to_frame
from lab_support.workers import WorkflowTaskFailed, build_id, wait_result

from .activities import Ticket, classify

HINTS = [
    "Call the model with `await workflow.execute_activity(classify, ticket, "
    "start_to_close_timeout=timedelta(seconds=10))`: the result then lands in the event history.",
    "Inside a workflow, `workflow.now()` is the clock: it is the time of the current workflow task, "
    "recorded in history, so a replay sees the same value. `datetime.now()` is blocked by the sandbox.",
    "Compare with `solution('replay')` if you are stuck.",
]
TICKET = Ticket("T-42", "I was charged twice, please refund my invoice")


async def grade(client: Client, module: ModuleType) -> Verdict:
    """Run `module.TriageAgent` for one ticket and judge the history it leaves."""
    task_queue = f"check-replay-{uuid.uuid4().hex[:8]}"
    agent = module.TriageAgent
    async with Worker(client, task_queue=task_queue, build_id=build_id(__file__),
                      workflows=[agent], activities=[classify]):
        handle = await client.start_workflow(
            agent.run, TICKET, id=f"check-triage-{uuid.uuid4().hex[:8]}", task_queue=task_queue,
            execution_timeout=timedelta(seconds=30),
        )
        try:
            result = await wait_result(handle, timeout=20)
        except WorkflowTaskFailed as e:
            if "TODO:" not in str(e) and ("datetime" in str(e) or "time." in str(e)):
                await handle.terminate("check finished")
                return not_yet("The sandbox stopped your workflow: it read the real clock.", HINTS[1])
            return await stuck_verdict(handle, e, "replay", HINTS[0])
        except WorkflowFailureError as e:
            return not_yet(f"The workflow failed: {e.cause}", HINTS[0])
    history = await handle.fetch_history()
    events = to_frame(history)
    activities = events.loc[events["type"] == "ActivityTaskScheduled", "name"].tolist()
    if not any(name.startswith("classify ") for name in activities):
        return not_yet("The history has no `classify` activity: the model call ran inside workflow code, "
                       "so a replay would call the model again.", HINTS[0])
    if result.label != "billing":
        return not_yet(f"The label is {result.label!r}, but the model says 'billing'. Use its answer.", HINTS[0])
    task_times = events.loc[events["type"] == "WorkflowTaskStarted", "time"]
    if not ((task_times - result.triaged_at).abs() <= timedelta(microseconds=1)).any():
        return not_yet("`triaged_at` is not a time recorded in the history, so replay would differ.", HINTS[1])
    try:
        await Replayer(workflows=[agent]).replay_workflow(history)
    except Exception as e:  # noqa: BLE001 - any replay failure is the learner's to see
        return not_yet(f"Your workflow does not replay its own history: {e}", HINTS[1])
    return passed(f"`classify` is an activity in the history, `triaged_at` ({result.triaged_at:%H:%M:%S.%f}) "
                  "is a workflow task's time from that history, and the history replays cleanly.")
