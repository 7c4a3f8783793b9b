"""Generation 2: fact-check before summarising - behind a patch, so v1 runs in flight keep their path."""

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
        if workflow.patched("fact-check"):  # True for new runs (and records a marker); False replaying v1 runs
            material = await workflow.execute_activity(fact_check, material, **CALL)
            return await self.finish("v2", await workflow.execute_activity(summarize, material, **CALL), topic)
        return await self.finish("v1", await workflow.execute_activity(summarize, material, **CALL), topic)
