"""The support agent as a workflow: the decisions live here, every model and tool call is an activity."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .activities import (Draft, Ticket, classify, draft_reply, fetch_blocking, fetch_in_thread, search_docs,
                             watch_loop)

CALL = {"start_to_close_timeout": timedelta(seconds=10)}


@dataclass
class Reply:
    ticket_id: str
    label: str
    text: str


@workflow.defn
class SupportAgent:
    @workflow.run
    async def run(self, ticket: Ticket) -> Reply:
        label = await workflow.execute_activity(classify, ticket, **CALL)
        docs = await workflow.execute_activity(search_docs, label, **CALL)
        text = await workflow.execute_activity(draft_reply, Draft(ticket, label, docs), **CALL)
        return Reply(ticket.id, label, text)


@workflow.defn
class StampedAgent:
    """Reads the wall clock inside workflow code: the sandbox stops it (replay would see another time)."""

    @workflow.run
    async def run(self, ticket: Ticket) -> str:
        from datetime import datetime

        label = await workflow.execute_activity(classify, ticket, **CALL)
        return f"{label} at {datetime.now().isoformat()}"


@workflow.defn
class LoopWatch:
    """Runs a slow fetch (`blocking`: async def + time.sleep, else a sync activity) next to a loop watcher.

    Returns the longest stall (s) the watcher saw in the worker's event loop."""

    @workflow.run
    async def run(self, blocking: bool) -> float:
        fetch = fetch_blocking if blocking else fetch_in_thread
        stall, _ = await asyncio.gather(
            workflow.execute_activity(watch_loop, 2.5, **CALL), workflow.execute_activity(fetch, 1.5, **CALL))
        return stall
