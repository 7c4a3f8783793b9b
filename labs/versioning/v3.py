"""Generation 3: every v1 run has finished; the patch is deprecated - the new path is the only path."""

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
        workflow.deprecate_patch("fact-check")  # still replays v2 histories (which carry the marker)
        material = await workflow.execute_activity(fact_check, material, **CALL)
        return await self.finish("v3", await workflow.execute_activity(summarize, material, **CALL), topic)
