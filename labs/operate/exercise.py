"""Exercise 13 - pick the point to rerun from.

A run priced step 6 with a buggy tool. To rerun it from step 6, the server needs the id of a
`WorkflowTaskCompleted` event to reset to: the workflow task that *scheduled* step 6. Everything before
that point is kept (steps 1-5 are not paid for again); step 6 and after run again, on today's code.
The agent's activities have ids "<step>-model" and "<step>-tool". Fill in `reset_event_id`, save,
then run the check cell in notebook 13.
"""

from __future__ import annotations

from temporalio.client import WorkflowHistory

from lab_support.exercises import todo


def reset_event_id(history: WorkflowHistory, step: int) -> int:
    """The event id of the WorkflowTaskCompleted that scheduled the first activity of `step`."""
    # TODO 1: among history.events, keep those with e.HasField("activity_task_scheduled_event_attributes")
    #         whose .activity_task_scheduled_event_attributes.activity_id starts with f"{step}-".
    # TODO 2: the first one's .activity_task_scheduled_event_attributes.workflow_task_completed_event_id
    #         is the workflow task that scheduled it: return that id.
    return todo("find the workflow task that scheduled the step")
