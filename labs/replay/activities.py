"""A support agent's model and tool calls. They stand in for I/O, so they are activities."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from temporalio import activity


@dataclass
class Ticket:
    id: str
    text: str


@dataclass
class Draft:
    ticket: Ticket
    label: str
    docs: list[str]


_LABELS = {"refund": "billing", "invoice": "billing", "crash": "bug", "error": "bug", "password": "account"}
_DOCS = {
    "billing": ["Refund policy", "How invoices work"],
    "bug": ["Known issues", "Collecting logs"],
    "account": ["Reset your password"],
    "other": ["Contact us"],
}


@activity.defn
async def classify(ticket: Ticket) -> str:
    """The "model": label a ticket (a real agent would call an LLM here)."""
    words = ticket.text.lower()
    return next((label for key, label in _LABELS.items() if key in words), "other")


@activity.defn
async def search_docs(label: str) -> list[str]:
    """A "tool": look up help articles for a label."""
    return _DOCS[label]


@activity.defn
async def draft_reply(draft: Draft) -> str:
    """The "model" again: write the reply."""
    return f"[{draft.label}] Thanks for ticket {draft.ticket.id}. See: {', '.join(draft.docs)}."


# -- sync vs async activities: what a blocking call does to the worker's event loop --------------------


@activity.defn
async def fetch_blocking(seconds: float) -> str:
    """BUG on purpose: an `async def` activity making a blocking call stops the worker's whole event loop."""
    await asyncio.sleep(0.5)  # let the watcher start first
    time.sleep(seconds)  # e.g. `requests.get(...)` or a sync SDK call
    return "fetched"


@activity.defn
def fetch_in_thread(seconds: float) -> str:
    """The same blocking call in a plain `def` activity: the worker runs it in its activity_executor thread."""
    time.sleep(0.5 + seconds)
    return "fetched"


@activity.defn
async def watch_loop(seconds: float) -> float:
    """Tick every 50 ms for `seconds` s; returns the longest gap between ticks (s): how long the event loop stalled."""
    longest, last = 0.0, time.monotonic()
    end = last + seconds
    while last < end:
        await asyncio.sleep(0.05)
        now = time.monotonic()
        longest, last = max(longest, now - last), now
    return round(longest, 2)
