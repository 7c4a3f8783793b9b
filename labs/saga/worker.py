"""Worker for lesson 07. Run: python -m labs.saga.worker (configured through LAB_* variables)."""

from __future__ import annotations

from typing import Any

from .activities import TripTools
from .workflows import BookTrip


def worker_options(ledger: str) -> dict[str, Any]:
    """Workflows, activities and options of this lesson's worker."""
    t = TripTools(ledger)
    return {"workflows": [BookTrip],
            "activities": [t.book_flight, t.book_hotel, t.charge_card, t.cancel_flight, t.cancel_hotel, t.refund_card]}


if __name__ == "__main__":
    from lab_support.workers import main

    main(worker_options)
