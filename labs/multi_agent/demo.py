"""Lesson 06 helpers: what became of a planner's children after the planner ended, or was retried."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from temporalio.api.enums.v1 import EventType, StartChildWorkflowExecutionFailedCause
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


async def retried_runs(client: Client, workflow_id: str, first_run_id: str) -> list[dict[str, Any]]:
    """Each run of a retried parent (follows failed runs' `new_execution_run_id`), oldest first.

    One dict per run: its attempt, how it closed (FAILED, COMPLETED...), and what its start of the child came to (the child's run id
    from `ChildWorkflowExecutionStarted`, or the cause from `StartChildWorkflowExecutionFailed`). Read from histories.
    """
    runs, run_id = [], first_run_id
    while run_id:
        events = (await client.get_workflow_handle(workflow_id, run_id=run_id).fetch_history()).events
        row: dict[str, Any] = {"run": run_id, "attempt": events[0].workflow_execution_started_event_attributes.attempt,
                               "closed": _event_type(events[-1]), "child run": None, "child start failed": None}
        for e in events:
            if e.HasField("child_workflow_execution_started_event_attributes"):
                row["child run"] = e.child_workflow_execution_started_event_attributes.workflow_execution.run_id
            if e.HasField("start_child_workflow_execution_failed_event_attributes"):
                cause = e.start_child_workflow_execution_failed_event_attributes.cause
                row["child start failed"] = StartChildWorkflowExecutionFailedCause.Name(cause).split("_CAUSE_")[-1]
        runs.append(row)
        last = events[-1]
        run_id = (last.workflow_execution_failed_event_attributes.new_execution_run_id
                  if last.HasField("workflow_execution_failed_event_attributes") else None)
    return runs


def _event_type(event: Any) -> str:
    return EventType.Name(event.event_type).removeprefix("EVENT_TYPE_WORKFLOW_EXECUTION_")
