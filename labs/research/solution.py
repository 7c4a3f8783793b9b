"""Solution 12 - a bounded retrieve retry policy with a heartbeat timeout, and publish as a saga."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from .activities import PublishInput, Report, ResearchActivities, RetrieveInput, SynthesisInput
    from .workflows import OneQuestion, options


def retrieve_options(time_scale: float) -> dict[str, Any]:
    """Timeouts and retry policy of the retrieve step."""
    return {"start_to_close_timeout": timedelta(seconds=120),
            "heartbeat_timeout": timedelta(seconds=2),
            "retry_policy": RetryPolicy(initial_interval=timedelta(seconds=max(time_scale, 0.1)), maximum_attempts=5)}


@workflow.defn(name="ResearchOne")
class ResearchOne:
    @workflow.run
    async def run(self, job: OneQuestion) -> str:
        me, scale = workflow.info().workflow_id, job.time_scale
        hits = await workflow.execute_activity_method(ResearchActivities.search, job.question, **options("search", scale))
        documents = await workflow.execute_activity_method(ResearchActivities.extract, hits, **options("extract", scale))
        passages = await workflow.execute_activity_method(
            ResearchActivities.retrieve, RetrieveInput(job.question, documents), **retrieve_options(scale))
        finding = await workflow.execute_activity_method(
            ResearchActivities.synthesise, SynthesisInput(job.question, passages), **options("model", scale))
        report = Report(job.question, [finding])
        try:
            await workflow.execute_activity_method(ResearchActivities.publish, PublishInput(me, report),
                                                   **options("publish", scale))
            await workflow.execute_activity_method(ResearchActivities.announce, me, **options("notify", scale))
        except BaseException:
            await workflow.execute_activity_method(ResearchActivities.retract, me, **options("undo", scale))
            raise
        return me
