"""Lesson 06 helper: what became of a planner's executor children after the planner itself ended."""

from __future__ import annotations

import asyncio
import time

from temporalio.client import Client


async def settled_children(client: Client, parent_id: str, count: int, timeout: float = 20.0) -> dict[str, str]:
    """Poll the children `<parent>-executor-1..count` until none is RUNNING; map id -> final status."""
    deadline = time.monotonic() + timeout
    while True:
        statuses = {}
        for i in range(1, count + 1):
            child = f"{parent_id}-executor-{i}"
            statuses[child] = (await client.get_workflow_handle(child).describe()).status.name
        if "RUNNING" not in statuses.values() or time.monotonic() > deadline:
            return statuses
        await asyncio.sleep(0.1)
