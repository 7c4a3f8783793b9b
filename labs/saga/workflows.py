"""The trip-booking saga: each step registers its compensation first; on failure or cancellation they run in reverse."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from .activities import Trip, TripTools

# WAIT_CANCELLATION_COMPLETED: on cancellation, the step's await returns only once the activity has really
# stopped (or finished), so its compensation never runs while the step is still running (the default,
# TRY_CANCEL, returns at once and the undo could check "was the hotel booked?" before the booking lands).
STEP = {"start_to_close_timeout": timedelta(seconds=30), "heartbeat_timeout": timedelta(seconds=2),
        "retry_policy": RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=3),
        "cancellation_type": ActivityCancellationType.WAIT_CANCELLATION_COMPLETED}
UNDO = {"start_to_close_timeout": timedelta(seconds=30),
        "retry_policy": RetryPolicy(initial_interval=timedelta(milliseconds=200))}  # compensations retry until done


@workflow.defn
class BookTrip:
    @workflow.run
    async def run(self, trip: Trip) -> list[str]:
        compensations = []
        done = []
        try:
            # Register each compensation BEFORE its step: a step that timed out may still have happened.
            for step, undo in ((TripTools.book_flight, TripTools.cancel_flight),
                               (TripTools.book_hotel, TripTools.cancel_hotel),
                               (TripTools.charge_card, TripTools.refund_card)):
                compensations.append(undo)
                done.append(await workflow.execute_activity_method(step, trip, **STEP))
            return done
        except BaseException:
            # Failure or cancellation: undo in reverse order. The workflow can still run activities here.
            for undo in reversed(compensations):
                await workflow.execute_activity_method(undo, trip, **UNDO)
            raise
