"""Solution 06 - a parallel fan-out to child workflows."""

from __future__ import annotations

import asyncio

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .workflows import Executor


@workflow.defn(name="TeamLead")
class TeamLead:
    @workflow.run
    async def run(self, tasks: list[str]) -> list[str]:
        me = workflow.info().workflow_id
        return list(await asyncio.gather(*(
            workflow.execute_child_workflow(Executor.run, task, id=f"{me}-executor-{i}")
            for i, task in enumerate(tasks, 1)
        )))
