"""Check for exercise 13: price a bill with the buggy tool, reset to the learner's event, rerun with the fix."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from types import ModuleType

from temporalio.api.common.v1 import WorkflowExecution
from temporalio.api.workflowservice.v1 import ResetWorkflowExecutionRequest
from temporalio.client import Client, WorkflowHistory
from temporalio.service import RPCError
from temporalio.worker import Worker

from lab_support.exercises import NotAttempted, Verdict, not_attempted, not_yet, passed
from lab_support.ledger import Ledger
from lab_support.llm import start_model
from lab_support.workers import build_id, wait_result

from .activities import OperateActivities, price_v2
from .demo import start_agent
from .workflows import OperateAgent, Task

HINTS = [
    "Loop over `history.events`; an activity's scheduling event has `activity_task_scheduled_event_attributes`, "
    "with `activity_id` (\"6-model\") and `workflow_task_completed_event_id`.",
    "Reset to the workflow task that scheduled step 6's *first* activity: then step 6 runs again with the fixed "
    "tool, and steps 1-5 keep their results.",
    "An ActivityTaskScheduled event id is not a valid reset point: the server wants a WorkflowTaskCompleted event.",
]


async def grade(client: Client, module: ModuleType) -> Verdict:
    """Run 7 steps with price@v1, reset to `module.reset_event_id(history, 6)`, finish with price@v2, read the ledger."""
    try:  # an untouched exercise says so at once, before any run
        module.reset_event_id(WorkflowHistory("not-a-run", []), 6)
    except NotAttempted:
        return not_attempted("operate")
    except Exception:  # noqa: BLE001 - an empty history may well make a real answer raise
        pass
    model = start_model(fake=True)
    ledger = Ledger(Path(tempfile.mkdtemp()) / "ledger.db")
    task_queue = f"check-operate-{uuid.uuid4().hex[:8]}"

    def worker(version: str) -> Worker:
        acts = OperateActivities(model.base_url, model.name, True, str(ledger.path), tool_version=version)
        return Worker(client, task_queue=task_queue, build_id=build_id(__file__),
                      workflows=[OperateAgent], activities=[acts.call_model, acts.price])

    try:
        async with worker("v1"):
            handle = await start_agent(client, task_queue, Task(steps=7), prefix="check-operate")
            await wait_result(handle, timeout=30)
        history = await handle.fetch_history()
        try:
            event_id = module.reset_event_id(history, 6)
        except NotAttempted:
            return not_attempted("operate")
        except Exception as e:  # noqa: BLE001 - the learner's code raised
            return not_yet(f"`reset_event_id(history, 6)` raised {type(e).__name__}: {e}", HINTS[0])
        async with worker("v2"):
            try:
                reset = await client.workflow_service.reset_workflow_execution(ResetWorkflowExecutionRequest(
                    namespace=client.namespace, workflow_execution=WorkflowExecution(workflow_id=handle.id, run_id=handle.result_run_id or ""),
                    reason="check", workflow_task_finish_event_id=int(event_id), request_id=str(uuid.uuid4())))
            except RPCError as e:
                return not_yet(f"The server refused to reset to event {event_id}: {str(e).splitlines()[0]}", HINTS[2])
            bill = await wait_result(client.get_workflow_handle(handle.id, run_id=reset.run_id), timeout=30)
    finally:
        model.stop()
    rerun = sorted(ledger.frame("tool").query("name == 'price@v2'")["step"])
    if bill["lines"]["tokyo-region"] != price_v2("tokyo-region"):
        return not_yet(f"Reset to event {event_id} reran steps {rerun}: step 6 kept its buggy price.", HINTS[1])
    if rerun != [6, 7]:
        return not_yet(f"Reset to event {event_id} reran steps {rerun}: steps before 6 were paid for again.", HINTS[1])
    return passed(f"Event {event_id} is the task that scheduled step 6: steps 1-5 kept their results, "
                  "steps 6-7 ran again with the fixed tool.")
