"""Exercise 08 - change a workflow that has runs in flight, safely.

v1 of `ResearchPipeline` searched, then summarised. The new requirement: fact-check the material
before summarising. Runs started by v1 code must still replay exactly as they ran (the check replays
a real v1 history), and new runs must fact-check. Replace the `todo(...)`, save, then run the check
cell in notebook 08.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from lab_support.exercises import todo

    from .activities import fact_check, search, summarize  # noqa: F401
    from .common import CALL, Pipeline, Topic


@workflow.defn(name="ResearchPipeline")
class ResearchPipeline(Pipeline):
    @workflow.run
    async def run(self, topic: Topic) -> str:
        material = await workflow.execute_activity(search, topic.name, **CALL)
        # TODO: for new runs only, run the fact_check activity on `material` before summarising
        #       (use a patch with the id "fact-check").
        material = todo("fact-check new runs only")
        return await self.finish("new", await workflow.execute_activity(summarize, material, **CALL), topic)
