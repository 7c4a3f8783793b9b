"""Trip-booking tools with real side effects (ledger rows) and their compensations (idempotent)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from temporalio import activity
from temporalio.exceptions import ApplicationError

from lab_support.ledger import Ledger


@dataclass
class Trip:
    traveller: str
    fail_at: str = ""  # "" | "charge": inject a declined card at step 3
    hotel_seconds: float = 0.2  # how long the hotel booking takes


class TripTools:
    def __init__(self, ledger: str) -> None:
        self.ledger = Ledger(ledger)

    def _did(self, what: str) -> bool:
        return bool(((self.ledger.frame(what)["key"]) == activity.info().workflow_id).any())

    def _undo(self, done: str, undone: str, step: int) -> str:
        """Record `undone` once, and only if `done` happened: safe to repeat, safe for a step that never ran."""
        if self._did(done) and not self._did(undone):
            self._write(undone, step)
        return undone

    def _write(self, what: str, step: int) -> None:
        info = activity.info()
        self.ledger.record(what, step, info.activity_type, key=info.workflow_id, attempt=info.attempt)

    @activity.defn(name="book_flight")
    async def book_flight(self, trip: Trip) -> str:
        self._write("flight booked", 1)
        return "flight FL-123"

    @activity.defn(name="book_hotel")
    async def book_hotel(self, trip: Trip) -> str:
        started = time.time()
        while time.time() < started + trip.hotel_seconds:
            activity.heartbeat()
            await asyncio.sleep(0.05)
        self._write("hotel booked", 2)
        return "hotel HT-456"

    @activity.defn(name="charge_card")
    async def charge_card(self, trip: Trip) -> str:
        if trip.fail_at == "charge":
            raise ApplicationError("card declined", type="CardDeclined", non_retryable=True)
        self._write("card charged", 3)
        return "payment PM-789"

    # Compensations: each undoes its step if (and only if) the step happened, so running one twice,
    # or for a step that never happened, is harmless.
    @activity.defn(name="cancel_flight")
    async def cancel_flight(self, trip: Trip) -> str:
        return self._undo("flight booked", "flight cancelled", 1)

    @activity.defn(name="cancel_hotel")
    async def cancel_hotel(self, trip: Trip) -> str:
        if activity.info().attempt == 1:  # the hotel's API is flaky: the compensation itself is retried
            raise ApplicationError("hotel API timed out")
        return self._undo("hotel booked", "hotel cancelled", 2)

    @activity.defn(name="refund_card")
    async def refund_card(self, trip: Trip) -> str:
        return self._undo("card charged", "card refunded", 3)


def net_effects(ledger: Ledger, workflow_id: str) -> dict[str, int]:
    """What is still in place per resource: bookings minus cancellations (0 everywhere = nothing half-done)."""
    rows = ledger.frame()
    rows = rows[rows["key"] == workflow_id]
    net = {"flight": 0, "hotel": 0, "card": 0}
    for actor in rows["actor"]:
        thing, what = actor.split(" ", 1)
        net[thing] += 1 if what in ("booked", "charged") else -1
    return net
