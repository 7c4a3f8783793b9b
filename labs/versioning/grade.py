"""Check for exercise 08: replay a real v1 history with the new code, then run a new workflow."""

from __future__ import annotations

import uuid
from types import ModuleType

from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Replayer, Worker

from lab_support.exercises import NotAttempted, Verdict, not_attempted, not_yet, passed, stuck_verdict
from lab_support.history import load_history, to_frame
from lab_support.workers import WorkflowTaskFailed, build_id, wait_result

from .activities import ACTIVITIES
from .common import Topic
from .record import HISTORIES

HINTS = [
    "`if workflow.patched(\"fact-check\"): material = await workflow.execute_activity(fact_check, material, **CALL)`",
    "Without a patch, replaying a v1 history meets a `fact_check` command where the history has `summarize`: "
    "that is the non-determinism error (TMPRL1100).",
]


async def grade(client: Client, module: ModuleType) -> Verdict:
    """Old runs must replay; new runs must fact-check (with a patch marker in the history)."""
    result = await Replayer(workflows=[module.ResearchPipeline]).replay_workflow(
        load_history(HISTORIES / "v1.json"), raise_on_replay_failure=False)
    failure = result.replay_failure
    if failure is not None:
        text = f"{failure} {getattr(failure, '__cause__', '')}"
        if "TODO:" in text or isinstance(failure, NotAttempted):
            return not_attempted("versioning")
        return not_yet(f"A v1 run no longer replays with your code: {str(failure)[:200]}", HINTS[1])
    task_queue = f"check-versioning-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, build_id=build_id(__file__),
                      workflows=[module.ResearchPipeline], activities=list(ACTIVITIES)):
        handle = await client.start_workflow(module.ResearchPipeline.run, Topic("check"),
                                             id=f"check-pipeline-{uuid.uuid4().hex[:8]}", task_queue=task_queue)
        try:
            await wait_result(handle, timeout=20)
        except WorkflowTaskFailed as e:
            return await stuck_verdict(handle, e, "versioning", HINTS[0], what="A new run failed its workflow task")
        except WorkflowFailureError as e:
            return not_yet(f"A new run failed: {e.cause}", HINTS[0])
    events = to_frame(await handle.fetch_history())
    names = events.loc[events["type"] == "ActivityTaskScheduled", "name"].str.split(" #").str[0].tolist()
    if names != ["search", "fact_check", "summarize"]:
        return not_yet(f"A new run called {names}; it should search, fact-check, then summarise.", HINTS[0])
    if "patch fact-check" not in set(events["name"].dropna()):
        return not_yet("The new run has no `fact-check` patch marker in its history.", HINTS[0])
    return passed("A real v1 history still replays, and a new run records the `fact-check` patch and "
                  "runs search → fact_check → summarize.")
