"""The agents' activities: plan, do one task, validate, review. Side effects go to the ledger."""

from __future__ import annotations

import asyncio
import time

from temporalio import activity
from temporalio.exceptions import ApplicationError

from lab_support.ledger import Ledger


class TeamTools:
    def __init__(self, ledger: str, task_seconds: float = 0.6) -> None:
        self.ledger, self.task_seconds = Ledger(ledger), task_seconds

    @activity.defn(name="plan_tasks")
    async def plan_tasks(self, goal: str) -> list[str]:
        """The planner's model call: split a goal into tasks."""
        return [f"find sources on {goal}", f"collect numbers on {goal} (flaky tool)", f"summarise {goal}"]

    @activity.defn(name="do_task")
    async def do_task(self, task: str) -> str:
        """An executor's work. A task marked 'flaky' crashes on its first execution (for the demo)."""
        info, started = activity.info(), time.time()
        while time.time() < started + self.task_seconds:
            activity.heartbeat()
            await asyncio.sleep(0.1)
        if "flaky" in task and not any(self.ledger.frame("crashed")["name"] == task):
            self.ledger.record("crashed", 0, task, key=info.workflow_id, started=started)
            raise ApplicationError(f"tool crashed while working on {task!r}", non_retryable=True)
        self.ledger.record("done", 0, task, key=info.workflow_id, started=started)
        return f"result of {task!r}"

    @activity.defn(name="long_task")
    async def long_task(self, task: str) -> str:
        """A longer piece of work (5 x task_seconds, heartbeating); the ledger gets a row when it starts and when it ends."""
        info, started = activity.info(), time.time()
        key = f"{info.workflow_id}/{info.workflow_run_id}"
        self.ledger.record("work started", 0, task, key=key, started=started)
        while time.time() < started + 5 * self.task_seconds:
            activity.heartbeat()
            await asyncio.sleep(0.1)
        self.ledger.record("work done", 0, task, key=key, started=started)
        return f"result of {task!r}"

    @activity.defn(name="validate")
    async def validate(self, results: list[str]) -> list[str]:
        """The validator's check: which results are unusable (empty list: all fine)."""
        return [r for r in results if not r.startswith("result of")]

    @activity.defn(name="review")
    async def review(self, results: list[str]) -> str:
        """The reviewer's final decision."""
        return f"approved: {len(results)} results"
