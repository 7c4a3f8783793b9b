"""Check for exercise 04: a valid update returns the budget; invalid ones are refused before the history."""

from __future__ import annotations

import asyncio
import uuid
from types import ModuleType

from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.worker import Worker

from lab_support.exercises import Verdict, not_attempted, not_yet, passed
from lab_support.history import to_frame
from lab_support.workers import build_id, wait_result

HINTS = [
    "In the handler: `self.budget = amount` then `return self.budget`.",
    "In the validator: `if amount <= 0 or amount > MAX_BUDGET: raise ValueError(...)`. A validator that "
    "raises refuses the update before it is written to the history.",
]


async def _update(handle, method, amount):
    return await asyncio.wait_for(handle.execute_update(method, amount), 10)


async def grade(client: Client, module: ModuleType) -> Verdict:
    """Send 500, -5 and 50,000 as updates, query, approve; judge answers and the history."""
    wf = module.BudgetApproval
    task_queue = f"check-approval-{uuid.uuid4().hex[:8]}"
    async with Worker(client, task_queue=task_queue, build_id=build_id(__file__), workflows=[wf]):
        handle = await client.start_workflow(wf.run, id=f"check-budget-{uuid.uuid4().hex[:8]}", task_queue=task_queue)
        try:
            try:
                accepted = await _update(handle, wf.set_budget, 500)
            except WorkflowUpdateFailedError as e:
                text = f"{e} {e.cause}"
                if "TODO:" in text:
                    return not_attempted("approval")
                return not_yet(f"A budget of 500 was refused: {e.cause}", HINTS[1])
            except asyncio.TimeoutError:
                return not_yet("The update never completed: the handler raised an error.", HINTS[0])
            if accepted != 500:
                return not_yet(f"`set_budget(500)` returned {accepted!r}; it should return the new budget.", HINTS[0])
            for bad in (-5, 50_000):
                try:
                    await _update(handle, wf.set_budget, bad)
                    return not_yet(f"A budget of {bad} was accepted; the validator should refuse it.", HINTS[1])
                except WorkflowUpdateFailedError:
                    pass
                except asyncio.TimeoutError:
                    return not_yet(f"`set_budget({bad})` never completed: refuse it in the validator.", HINTS[1])
            if await handle.query(wf.current_budget) != 500:
                return not_yet("After the refused updates the budget changed; refused updates must not.", HINTS[1])
            await handle.signal(wf.approve)
            result = await wait_result(handle, timeout=10)
        finally:
            if (await handle.describe()).status.name == "RUNNING":
                await handle.terminate("check finished")
    events = to_frame(await handle.fetch_history())
    accepted_events = int((events["type"] == "WorkflowExecutionUpdateAccepted").sum())
    if accepted_events != 1:
        return not_yet(f"The history has {accepted_events} accepted updates; refused ones must leave none.", HINTS[1])
    return passed(f"500 accepted and returned, -5 and 50,000 refused by the validator (no trace in the "
                  f"history), and the workflow finished: {result!r}.")
