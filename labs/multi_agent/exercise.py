"""Exercise 06 - fan out to executor agents in parallel.

`TeamLead` gets a list of tasks. Run one `Executor` child workflow per task, all at the same time,
and return their results in the order of the tasks. Replace the `todo(...)`, save, then run the
check cell in notebook 06.
"""

from __future__ import annotations

import asyncio  # noqa: F401 - asyncio.gather runs awaitables concurrently

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from lab_support.exercises import todo

    from .workflows import Executor  # noqa: F401


@workflow.defn(name="TeamLead")
class TeamLead:
    @workflow.run
    async def run(self, tasks: list[str]) -> list[str]:
        me = workflow.info().workflow_id  # noqa: F841 - child ids must be unique: build them from this
        # TODO: start an Executor child per task (workflow.execute_child_workflow(Executor.run, task, id=...)),
        #       all at once, and return the results in task order.
        return todo("fan out to the executors")
