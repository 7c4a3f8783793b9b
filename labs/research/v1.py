"""The Executor as it was before the synthesis prompt changed (no patch): kept to record and replay its histories."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .activities import Finding, ResearchActivities, SynthesisInput
    from .workflows import Task, gather_passages, options


@workflow.defn(name="Executor")
class ExecutorV1:
    @workflow.run
    async def run(self, task: Task) -> Finding:
        passages = await gather_passages(task)
        return await workflow.execute_activity_method(
            ResearchActivities.synthesise, SynthesisInput(task.question, passages, task.feedback, 1),
            **options("model", task.time_scale))


@workflow.defn(name="Executor")
class ExecutorUnpatched:
    """The prompt change made WITHOUT a patch, plus a new step (a second model call that checks the citations)."""

    @workflow.run
    async def run(self, task: Task) -> Finding:
        passages = await gather_passages(task)
        draft = await workflow.execute_activity_method(
            ResearchActivities.synthesise, SynthesisInput(task.question, passages, task.feedback, 2),
            **options("model", task.time_scale))
        return await workflow.execute_activity_method(  # the new step: changes the sequence of commands
            ResearchActivities.synthesise, SynthesisInput(task.question, passages, f"Check: {draft.text}", 2),
            **options("model", task.time_scale))
