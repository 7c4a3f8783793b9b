"""Check for exercise 07: a declined card must leave nothing booked, undone newest first, and fail."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from types import ModuleType

from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Worker

from lab_support.exercises import Verdict, not_yet, passed, stuck_verdict
from lab_support.ledger import Ledger
from lab_support.workers import WorkflowTaskFailed, build_id, wait_result

from .activities import Trip, TripTools, net_effects

HINTS = [
    "Keep a list; append `undo` before `await workflow.execute_activity_method(step, trip, **STEP)`; in "
    "`except BaseException:` loop over `reversed(list)` running each with `**UNDO`, then `raise`.",
    "Undo newest first: the hotel before the flight (a hotel without a flight is fine; the reverse may not be).",
    "Re-raise after compensating: a saga that swallows the failure reports a trip that does not exist.",
]


async def grade(client: Client, module: ModuleType) -> Verdict:
    """Book with a declined card; read the ledger and the outcome; then book normally."""
    ledger = Ledger(Path(tempfile.mkdtemp()) / "ledger.db")
    t = TripTools(str(ledger.path))
    task_queue = f"check-saga-{uuid.uuid4().hex[:8]}"
    acts = [t.book_flight, t.book_hotel, t.charge_card, t.cancel_flight, t.cancel_hotel, t.refund_card]
    async with Worker(client, task_queue=task_queue, build_id=build_id(__file__),
                      workflows=[module.BookTripSaga], activities=acts):
        async def book(trip: Trip):
            handle = await client.start_workflow(module.BookTripSaga.run, trip, id=f"check-saga-{uuid.uuid4().hex[:8]}",
                                                 task_queue=task_queue)
            try:
                return handle, await wait_result(handle, timeout=30)
            except WorkflowFailureError as e:
                return handle, e
            except WorkflowTaskFailed as e:
                return handle, await stuck_verdict(handle, e, "saga", HINTS[0])

        handle, outcome = await book(Trip("ada", fail_at="charge"))
        if isinstance(outcome, Verdict):
            return outcome
        net = net_effects(ledger, handle.id)
        if any(net.values()):
            return not_yet(f"After the declined card, still in place: {net}.", HINTS[0])
        undo_order = [a for a in ledger.frame()["actor"] if a.endswith("cancelled")]
        if undo_order != ["hotel cancelled", "flight cancelled"]:
            return not_yet(f"Undone in the order {undo_order}; undo the newest step first.", HINTS[1])
        if not isinstance(outcome, WorkflowFailureError):
            return not_yet("Everything was undone, but the workflow completed as if the trip were booked.", HINTS[2])
        _, happy = await book(Trip("grace"))
        if isinstance(happy, BaseException) or len(happy) != 3:
            return not_yet(f"A trip with a good card did not book: {happy}", HINTS[0])
    return passed("A declined card left nothing booked (hotel undone, then flight, each retried until done), "
                  "the saga failed as it should, and a good card books all three.")
