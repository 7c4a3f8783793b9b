"""A planner agent that fans work out to executor agents (child workflows), then a validator and a reviewer."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError, ChildWorkflowError, WorkflowAlreadyStartedError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from .activities import TeamTools

CALL = {"start_to_close_timeout": timedelta(seconds=30), "heartbeat_timeout": timedelta(seconds=2),
        "retry_policy": RetryPolicy(maximum_attempts=2, initial_interval=timedelta(milliseconds=200))}


@workflow.defn
class Executor:
    """One agent, one task."""

    @workflow.run
    async def run(self, task: str) -> str:
        return await workflow.execute_activity_method(TeamTools.do_task, task, **CALL)


@workflow.defn
class Validator:
    @workflow.run
    async def run(self, results: list[str]) -> list[str]:
        return await workflow.execute_activity_method(TeamTools.validate, results, **CALL)


@workflow.defn
class Reviewer:
    @workflow.run
    async def run(self, results: list[str]) -> str:
        return await workflow.execute_activity_method(TeamTools.review, results, **CALL)


@dataclass
class Mission:
    goal: str
    children_on_parent_close: str = "TERMINATE"  # TERMINATE | ABANDON | REQUEST_CANCEL


@dataclass
class Report:
    results: list[str]
    decision: str
    retried: list[str] = field(default_factory=list)


@workflow.defn
class Planner:
    @workflow.run
    async def run(self, mission: Mission) -> Report:
        me = workflow.info().workflow_id
        policy = ParentClosePolicy[mission.children_on_parent_close]
        tasks = await workflow.execute_activity_method(TeamTools.plan_tasks, mission.goal, **CALL)

        async def execute(i: int, task: str, attempt: str = "") -> str:
            return await workflow.execute_child_workflow(
                Executor.run, task, id=f"{me}-executor-{i}{attempt}", parent_close_policy=policy)

        # Fan out: all executors run at the same time.
        outcomes = await asyncio.gather(*(execute(i, t) for i, t in enumerate(tasks, 1)), return_exceptions=True)
        results, retried = [], []
        for i, (task, outcome) in enumerate(zip(tasks, outcomes), 1):
            if isinstance(outcome, ChildWorkflowError):  # one agent failed: give its task one more try
                retried.append(task)
                outcome = await execute(i, task, "-retry")
            elif isinstance(outcome, BaseException):
                raise outcome
            results.append(outcome)

        problems = await workflow.execute_child_workflow(Validator.run, results, id=f"{me}-validator")
        if problems:
            raise ApplicationError(f"validator rejected: {problems}")
        decision = await workflow.execute_child_workflow(Reviewer.run, results, id=f"{me}-reviewer")
        return Report(results, decision, retried)


@workflow.defn
class LongExecutor:
    """One agent doing one longer task (the child in the retried-parent demo)."""

    @workflow.run
    async def run(self, task: str) -> str:
        return await workflow.execute_activity_method(TeamTools.long_task, task, **CALL)


@workflow.defn
class RetriedPlanner:
    """Starts its executor under a fixed id; its FIRST run fails on the `fail` signal; Temporal retries the planner."""

    def __init__(self) -> None:
        self.failing = False

    @workflow.signal
    def fail(self) -> None:
        self.failing = True

    @workflow.run
    async def run(self, mission: Mission) -> str:
        info = workflow.info()
        try:
            child = await workflow.start_child_workflow(
                LongExecutor.run, f"research {mission.goal}", id=f"{info.workflow_id}-executor",
                parent_close_policy=ParentClosePolicy[mission.children_on_parent_close])
        except WorkflowAlreadyStartedError:
            # A child with this id is still running (an earlier run's): this run cannot await it. Handle it.
            return "executor already started by an earlier run"
        if info.attempt == 1:
            await workflow.wait_condition(lambda: self.failing)  # the executor is at work...
            raise ApplicationError("the planner failed after starting its executor")  # ...and this run fails
        return await child
