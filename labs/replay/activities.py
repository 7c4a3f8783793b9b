"""A support agent's model and tool calls. They stand in for I/O, so they are activities."""

from __future__ import annotations

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
