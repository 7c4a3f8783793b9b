"""Exercise 07 - write the saga.

`BookTripSaga` books a flight, a hotel and charges the card. If any step fails, every step that
may have happened must be undone, newest first, and the workflow must still fail (so the caller
knows). Replace the `todo(...)`, save, then run the check cell in notebook 07.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from lab_support.exercises import todo

    from .activities import Trip, TripTools  # noqa: F401
    from .workflows import STEP, UNDO  # noqa: F401


@workflow.defn(name="BookTripSaga")
class BookTripSaga:
    @workflow.run
    async def run(self, trip: Trip) -> list[str]:
        steps = [(TripTools.book_flight, TripTools.cancel_flight),  # noqa: F841 - yours to use
                 (TripTools.book_hotel, TripTools.cancel_hotel),
                 (TripTools.charge_card, TripTools.refund_card)]
        # TODO: run each step as an activity (**STEP). Remember its compensation before running it. If
        #       anything fails, run the remembered compensations in reverse order (**UNDO), then re-raise.
        return todo("book with compensations")
