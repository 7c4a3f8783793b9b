"""Solution 13 - the reset point for "rerun from step k"."""

from __future__ import annotations

from temporalio.client import WorkflowHistory


def reset_event_id(history: WorkflowHistory, step: int) -> int:
    """The event id of the WorkflowTaskCompleted that scheduled the first activity of `step`."""
    for e in history.events:  # events are in order: the first match is the step's first activity
        if e.HasField("activity_task_scheduled_event_attributes"):
            attrs = e.activity_task_scheduled_event_attributes
            if attrs.activity_id.startswith(f"{step}-"):
                return attrs.workflow_task_completed_event_id
    raise ValueError(f"step {step} never ran")
