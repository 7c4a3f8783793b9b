"""The monitoring agent's activity: check a feed once (cheap and deterministic here)."""

from __future__ import annotations

from temporalio import activity


@activity.defn
async def check_feed(check: int) -> str:
    """Look at the feed; every 7th check finds something new."""
    return f"item-{check}" if check % 7 == 0 else ""


@activity.defn
async def fetch_page(size: int) -> str:
    """A page of `size` bytes (its content lands in the history as the activity's result)."""
    return "x" * size
