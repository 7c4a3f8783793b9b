"""The research agent's eight tool calls. Each one changes the world, so it is written to a ledger."""

from __future__ import annotations

import asyncio
import time
from typing import Callable

STEPS = [
    "search the web", "open paper A", "open paper B", "extract claims",
    "check citations", "query the database", "draft the report", "email the report",
]
STEP_SECONDS = 0.4  # how long one tool call takes


async def perform(step: int, ledger_path: str, actor: str, key: str = "", attempt: int = 1,
                  beat: Callable[[], None] | None = None, seconds: float = STEP_SECONDS) -> str:
    """Do step `step` (1-based): work for `seconds` (default STEP_SECONDS), then record the side effect in the ledger."""
    from lab_support.ledger import Ledger

    started = time.time()
    deadline = started + seconds
    while time.time() < deadline:  # "work", telling Temporal we are alive when asked to
        if beat is not None:
            beat()
        await asyncio.sleep(0.1)
    Ledger(ledger_path).record(actor, step, STEPS[step - 1], key=key, attempt=attempt, started=started)
    return f"{STEPS[step - 1]}: done"
