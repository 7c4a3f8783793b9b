"""Solution 07 - a saga with a compensation stack."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .activities import Trip, TripTools
    from .workflows import STEP, UNDO


@workflow.defn(name="BookTripSaga")
class BookTripSaga:
    @workflow.run
    async def run(self, trip: Trip) -> list[str]:
        steps = [(TripTools.book_flight, TripTools.cancel_flight),
                 (TripTools.book_hotel, TripTools.cancel_hotel),
                 (TripTools.charge_card, TripTools.refund_card)]
        undo_stack, done = [], []
        try:
            for step, undo in steps:
                undo_stack.append(undo)
                done.append(await workflow.execute_activity_method(step, trip, **STEP))
            return done
        except BaseException:
            for undo in reversed(undo_stack):
                await workflow.execute_activity_method(undo, trip, **UNDO)
            raise
