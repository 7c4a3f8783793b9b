"""Generation 1: search, then summarise."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .activities import search, summarize
    from .common import CALL, Pipeline, Topic


@workflow.defn(name="ResearchPipeline")
class ResearchPipeline(Pipeline):
    @workflow.run
    async def run(self, topic: Topic) -> str:
        material = await workflow.execute_activity(search, topic.name, **CALL)
        return await self.finish("v1", await workflow.execute_activity(summarize, material, **CALL), topic)
