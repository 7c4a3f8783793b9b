"""When will a retrying activity try again? Read from the server (`describe()`'s pending activities)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from temporalio.client import WorkflowHandle


@dataclass
class NextAttempt:
    """A pending activity between attempts: its type, the attempt it waits to start, the wait in seconds."""

    activity: str
    attempt: int
    wait: float  # next_attempt_schedule_time - last_attempt_complete_time, in seconds
    last_failure: str


async def next_attempt(handle: WorkflowHandle[Any, Any], timeout: float = 30.0) -> NextAttempt:
    """Poll `describe()` until an activity of the workflow has failed and waits for its next attempt.

    Raises TimeoutError if no activity is between attempts within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in (await handle.describe()).raw_description.pending_activities:
            if p.HasField("next_attempt_schedule_time") and p.HasField("last_attempt_complete_time"):
                wait = (p.next_attempt_schedule_time.ToDatetime() - p.last_attempt_complete_time.ToDatetime())
                return NextAttempt(p.activity_type.name, p.attempt, wait.total_seconds(), p.last_failure.message)
        await asyncio.sleep(0.1)
    raise TimeoutError(f"No activity of {handle.id} was waiting for a retry within {timeout:g} s.")


async def attempts_logged(ledger: Any, workflow_id: str, count: int, timeout: float = 30.0) -> Any:
    """Wait until the attempt log holds `count` attempts of `workflow_id`; return them (a DataFrame).

    An attempt the server has already given up on may still be running in the worker: it logs itself when
    it ends. Raises TimeoutError if fewer than `count` are logged within `timeout` seconds.
    """
    deadline = time.monotonic() + timeout
    while len(attempts := ledger.attempts(workflow_id)) < count:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{len(attempts)} of {count} attempts of {workflow_id} logged after {timeout:g} s.")
        await asyncio.sleep(0.1)
    return attempts
