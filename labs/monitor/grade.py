"""Check for exercise 05: 80 messages on a server whose history limit is 300 events."""

from __future__ import annotations

import uuid
from types import ModuleType

from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Worker

from lab_support.exercises import Verdict, not_yet, passed, stuck_verdict
from lab_support.history import fetch_runs
from lab_support.server import start_dev_server
from lab_support.workers import WorkflowTaskFailed, build_id, wait_result

LIMITS = {
    "limit.historyCount.error": 300, "limit.historyCount.warn": 100,
    "limit.historyCount.suggestContinueAsNew": 100, "history.workflowIdReuseMinimalInterval": "0s",
}
MESSAGES = 80
HINTS = [
    "`await workflow.wait_condition(workflow.all_handlers_finished)`, then `self.inbox.runs += 1`, then "
    "`workflow.continue_as_new(self.inbox)`.",
    "Carry the whole inbox, pending messages included: a message that arrived but was not handled yet "
    "exists only in this run's state.",
]


async def grade(client: Client, module: ModuleType) -> Verdict:
    """Send 80 messages quickly; all must be handled, over several runs, none terminated by the limit."""
    del client  # the history limit needs a server of our own
    lab = await start_dev_server(ui=False, dynamic_config=LIMITS)
    try:
        task_queue = f"check-monitor-{uuid.uuid4().hex[:8]}"
        workflow_id = f"check-inbox-{uuid.uuid4().hex[:8]}"
        async with Worker(lab.client, task_queue=task_queue, build_id=build_id(__file__),
                          workflows=[module.InboxAgent]):
            handle = await lab.client.start_workflow(module.InboxAgent.run, module.Inbox(target=MESSAGES),
                                                     id=workflow_id, task_queue=task_queue)
            for i in range(MESSAGES):
                await lab.client.get_workflow_handle(workflow_id).signal("message", f"message {i}")
            try:
                latest = lab.client.get_workflow_handle(workflow_id, result_type=module.Inbox)  # follows the runs
                result = await wait_result(latest, timeout=6)
            except WorkflowTaskFailed as e:
                return await stuck_verdict(handle, e, "monitor", HINTS[0])
            except WorkflowFailureError as e:
                return not_yet(f"The workflow ended early: {e.cause}. Did it continue as new in time?", HINTS[0])
            except TimeoutError:
                status = await latest.query(module.InboxAgent.status)
                await lab.client.get_workflow_handle(workflow_id).terminate("check finished")
                return not_yet(f"Only {status.handled} of {MESSAGES} messages were handled: some were lost "
                               "in a hand-over between runs.", HINTS[1])
        runs = await fetch_runs(lab, workflow_id)
    finally:
        await lab.close()
    if result.handled != MESSAGES:
        return not_yet(f"{result.handled} of {MESSAGES} messages handled.", HINTS[1])
    if len(runs) < 2:
        return not_yet("Everything happened in one run; it should have continued as new.", HINTS[0])
    if result.runs != len(runs):
        return not_yet(f"The workflow counted {result.runs} runs but there were {len(runs)}.", HINTS[0])
    longest = max(len(r.events) for r in runs)
    return passed(f"All {MESSAGES} messages handled across {len(runs)} runs; the longest history had "
                  f"{longest} events (limit 300).")
