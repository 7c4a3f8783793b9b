"""Check for exercise 06: the executors must all be started before any of them finishes."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from types import ModuleType

from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Worker

from lab_support.exercises import Verdict, not_yet, passed, stuck_verdict
from lab_support.history import to_frame
from lab_support.workers import WorkflowTaskFailed, build_id, wait_result

from .activities import TeamTools
from .workflows import Executor

TASKS = ["read the brief", "draft the outline", "check the facts"]
HINTS = [
    "`await asyncio.gather(*(workflow.execute_child_workflow(Executor.run, t, id=f\"{me}-executor-{i}\") "
    "for i, t in enumerate(tasks, 1)))` starts them all, then waits for all.",
    "Awaiting each child inside a `for` loop runs them one after another: the second starts only when the "
    "first has finished.",
]


async def grade(client: Client, module: ModuleType) -> Verdict:
    """Run TeamLead over three tasks; read results and the child events of its history."""
    tools = TeamTools(str(Path(tempfile.mkdtemp()) / "ledger.db"), task_seconds=0.3)
    task_queue = f"check-team-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, build_id=build_id(__file__),
                      workflows=[module.TeamLead, Executor], activities=[tools.do_task]):
        handle = await client.start_workflow(module.TeamLead.run, TASKS, id=f"check-team-{uuid.uuid4().hex[:8]}",
                                             task_queue=task_queue)
        try:
            results = await wait_result(handle, timeout=30)
        except WorkflowTaskFailed as e:
            return await stuck_verdict(handle, e, "multi_agent", HINTS[0])
        except WorkflowFailureError as e:
            return not_yet(f"The workflow failed: {e.cause}", HINTS[0])
    events = to_frame(await handle.fetch_history())
    if results != [f"result of {t!r}" for t in TASKS]:
        return not_yet(f"Results {results!r} are not the executors' results in task order.", HINTS[0])
    started = events[events["type"] == "StartChildWorkflowExecutionInitiated"]
    finished = events[events["type"] == "ChildWorkflowExecutionCompleted"]
    if len(started) != len(TASKS):
        return not_yet(f"{len(started)} child workflows were started for {len(TASKS)} tasks.", HINTS[0])
    if started["event_id"].max() > finished["event_id"].min():
        return not_yet("The executors ran one after another, not in parallel.", HINTS[1])
    span = finished["t"].max() - started["t"].min()
    return passed(f"{len(TASKS)} executors started together and finished within {span:.2f} s; "
                  "results in task order.")
