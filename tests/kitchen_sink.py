"""A workflow that touches every kind of history event the lab draws: retries, a timer, a signal,
an update, a child workflow and a patch marker. `python -m tests.record_histories` records it."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError


@activity.defn
async def flaky(name: str) -> str:
    """Fails on attempts 1 and 2, succeeds on attempt 3."""
    attempt = activity.info().attempt
    if attempt < 3:
        raise ApplicationError(f"model overloaded (attempt {attempt})")
    return f"{name} ok after {attempt} attempts"


@activity.defn
async def steady(name: str) -> str:
    """Always succeeds."""
    return f"{name} ok"


@workflow.defn
class ChildAgent:
    @workflow.run
    async def run(self, task: str) -> str:
        return await workflow.execute_activity(steady, task, start_to_close_timeout=timedelta(seconds=5))


@workflow.defn
class KitchenSink:
    def __init__(self) -> None:
        self.go = False
        self.plan = "draft"

    @workflow.signal
    def approve(self) -> None:
        self.go = True

    @workflow.update
    def edit(self, plan: str) -> str:
        self.plan = plan
        return f"plan is now {plan}"

    @workflow.query
    def ready(self) -> bool:
        return self.plan != "draft"

    @workflow.run
    async def run(self) -> list[str]:
        out = [await workflow.execute_activity(
            flaky, "research", start_to_close_timeout=timedelta(seconds=5),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=100), backoff_coefficient=1.0),
        )]
        if workflow.patched("add-timer"):
            await asyncio.sleep(0.2)
        await workflow.wait_condition(lambda: self.go and self.plan != "draft")
        out.append(await workflow.execute_child_workflow(ChildAgent.run, self.plan, id=f"{workflow.info().workflow_id}-child"))
        out.append(await workflow.execute_activity(steady, "report", start_to_close_timeout=timedelta(seconds=5)))
        return out
