"""Generation 2 written WITHOUT a patch: v1 histories no longer replay (non-determinism)."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .activities import fact_check, search, summarize
    from .common import CALL, Pipeline, Topic


@workflow.defn(name="ResearchPipeline")
class ResearchPipeline(Pipeline):
    @workflow.run
    async def run(self, topic: Topic) -> str:
        material = await workflow.execute_activity(search, topic.name, **CALL)
        material = await workflow.execute_activity(fact_check, material, **CALL)
        return await self.finish("v2", await workflow.execute_activity(summarize, material, **CALL), topic)
