"""Lesson 03's recurring agent three ways - a sleep loop, a Schedule, a cron job - and what each costs.

A Schedule starts one short `DigestRun` per week; the loop keeps one workflow asleep between weeks;
`cron_schedule` makes the server start a new run of one workflow id on a cron string.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pandas as pd
from temporalio.client import (
    Client, Schedule, ScheduleActionStartWorkflow, ScheduleCalendarSpec, ScheduleDescription, ScheduleHandle,
    ScheduleOverlapPolicy, SchedulePolicy, ScheduleRange, ScheduleSpec, ScheduleState, WorkflowHistory,
)

from lab_support.history import fetch_history, to_frame

from .workflows import DigestJob, DigestRun

# Events a time-skipping server adds to a history for its own bookkeeping; left out when counting cost.
SKIPPING_EVENTS = {"WorkflowExecutionTimeSkippingTransitioned", "WorkflowExecutionOptionsUpdated"}


def weekly_digest(task_queue: str, workflow_id: str, topic: str = "agents") -> Schedule:
    """Mondays 09:00 UTC, one `DigestRun` each; a run still going at the next Monday makes that one skip."""
    return Schedule(
        action=ScheduleActionStartWorkflow(DigestRun.run, DigestJob(topic), id=workflow_id, task_queue=task_queue),
        spec=ScheduleSpec(calendars=[ScheduleCalendarSpec(
            day_of_week=[ScheduleRange(1)], hour=[ScheduleRange(9)], minute=[ScheduleRange(0)], second=[ScheduleRange(0)])]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP),
        state=ScheduleState(note="weekly research digest"),
    )


async def wait_actions(handle: ScheduleHandle, n: int, timeout: float = 30.0, idle: bool = True) -> ScheduleDescription:
    """Poll `describe()` until the schedule has taken `n` actions (and, if `idle`, none is still running)."""
    deadline = time.monotonic() + timeout
    while True:
        d = await handle.describe()
        if d.info.num_actions >= n and (not idle or not d.info.running_actions):
            return d
        if time.monotonic() > deadline:
            raise TimeoutError(f"Schedule {handle.id!r} took {d.info.num_actions} actions in {timeout:g}s, not {n}.")
        await asyncio.sleep(0.1)


_CLOSED = {f"workflow_execution_{end}_event_attributes"
           for end in ("completed", "failed", "timed_out", "terminated", "canceled", "continued_as_new")}


async def chain(client: Client, workflow_id: str, first_run_id: str, runs: int, timeout: float = 30.0) -> list[WorkflowHistory]:
    """The first `runs` closed runs of a chain: continue-as-new or cron (each run names the next in its last event)."""
    histories: list[WorkflowHistory] = []
    run_id: str | None = first_run_id
    deadline = time.monotonic() + timeout
    while run_id and len(histories) < runs:
        history = await fetch_history(client.get_workflow_handle(workflow_id, run_id=run_id))
        which = history.events[-1].WhichOneof("attributes") or ""
        if which not in _CLOSED:
            if time.monotonic() > deadline:
                raise TimeoutError(f"Run {run_id} of {workflow_id!r} did not close within {timeout:g}s.")
            await asyncio.sleep(0.1)
            continue
        histories.append(history)
        run_id = getattr(getattr(history.events[-1], which), "new_execution_run_id", "") or None
    return histories


def events(history: WorkflowHistory) -> int:
    """Events in a history, without a time-skipping server's own bookkeeping events."""
    return int((~to_frame(history)["type"].isin(SKIPPING_EVENTS)).sum())


def cost_row(way: str, histories: list[WorkflowHistory], weeks: int, **extra: Any) -> dict[str, Any]:
    """One row of the comparison: runs, events in all of them, in the largest one, per week."""
    counts = [events(h) for h in histories]
    return {"way": way, "weeks": weeks, "histories": len(counts), "events in all": sum(counts),
            "largest history": max(counts), "events per week": round(sum(counts) / weeks, 1), **extra}


def compare(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """The rows as a table."""
    return pd.DataFrame(rows).set_index("way")
