"""Check for exercise 09: cancel TidyAgent mid-crawl; cleanup must run and the workflow end CANCELED."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from types import ModuleType

from temporalio.client import Client, WorkflowExecutionStatus, WorkflowFailureError
from temporalio.worker import Worker

from lab_support.exercises import Verdict, not_yet, passed, stuck_verdict
from lab_support.history import to_frame
from lab_support.ledger import Ledger
from lab_support.workers import WorkflowTaskFailed, build_id, wait_result, wait_running

from .activities import CrawlTools
from .workflows import Job

HINTS = [
    "In the `except` block, after the `is_cancelled_exception` check: `await workflow.execute_activity_method("
    "CrawlTools.release_resources, job.name, start_to_close_timeout=timedelta(seconds=10))`.",
    "Then `raise`: swallowing the cancellation makes the workflow complete normally instead of CANCELED.",
]


async def grade(client: Client, module: ModuleType) -> Verdict:
    """Start, wait until a crawl runs, cancel, and read status, ledger and history."""
    ledger = Ledger(Path(tempfile.mkdtemp()) / "ledger.db")
    tools = CrawlTools(str(ledger.path))
    task_queue = f"check-cancel-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, build_id=build_id(__file__), workflows=[module.TidyAgent],
                      activities=[tools.crawl, tools.release_resources]):
        handle = await client.start_workflow(module.TidyAgent.run, Job("check"), id=f"check-tidy-{uuid.uuid4().hex[:8]}",
                                             task_queue=task_queue)
        await wait_running(handle, activity="crawl")
        await handle.cancel()
        try:
            await wait_result(handle, timeout=20)
        except WorkflowTaskFailed as e:
            return await stuck_verdict(handle, e, "cancellation", HINTS[0], what="The workflow task failed during cleanup")
        except WorkflowFailureError:
            pass
    status = (await handle.describe()).status
    released = ledger.frame("released")
    if released.empty:
        return not_yet("The workflow was cancelled but `release_resources` never ran.", HINTS[0])
    if status != WorkflowExecutionStatus.CANCELED:
        return not_yet(f"Cleanup ran, but the workflow ended {status.name}, not CANCELED.", HINTS[1])
    events = to_frame(await handle.fetch_history())
    asked = events.loc[events["type"] == "WorkflowExecutionCancelRequested", "t"].iloc[0]
    cleanup = events[(events["type"] == "ActivityTaskCompleted") & events["name"].str.startswith("release_resources")]
    if cleanup.empty or cleanup["t"].iloc[0] < asked:
        return not_yet("The history shows no cleanup activity completing after the cancel request.", HINTS[0])
    return passed(f"Cancelled mid-crawl; `release_resources` completed {cleanup['t'].iloc[0] - asked:.2f} s after "
                  "the request, and the workflow ended CANCELED.")
