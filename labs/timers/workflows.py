"""A research agent that writes a digest, sleeps a week, and repeats - with a durable timer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .activities import DigestTools


@dataclass
class Weekly:
    cycles: int = 3
    every_seconds: float = 7 * 24 * 3600  # a week


@workflow.defn
class WeeklyResearch:
    @workflow.run
    async def run(self, plan: Weekly) -> list[str]:
        digests = []
        for cycle in range(1, plan.cycles + 1):
            digests.append(await workflow.execute_activity_method(
                DigestTools.write_digest, cycle, start_to_close_timeout=timedelta(seconds=10)))
            if cycle < plan.cycles:
                # A durable timer: the server keeps it. No worker needs to be alive while it runs.
                await workflow.sleep(timedelta(seconds=plan.every_seconds), summary=f"wait for week {cycle + 1}")
        return digests


@dataclass
class DigestJob:
    topic: str
    linger_seconds: float = 0.0  # keep the run open a while after the digest (to show overlap policies)


@workflow.defn
class DigestRun:
    """One run = one digest: what a Schedule (or a cron job) starts each week. No loop, no timer between weeks."""

    @workflow.run
    async def run(self, job: DigestJob) -> str:
        digest = await workflow.execute_activity_method(DigestTools.write_digest, 1, start_to_close_timeout=timedelta(seconds=10))
        if job.linger_seconds:
            await workflow.sleep(timedelta(seconds=job.linger_seconds), summary="linger")
        return f"{job.topic}: {digest}"


@dataclass
class Forever:
    cycles: int  # weeks to run in total (a real agent would run until cancelled)
    per_run: int  # weeks per run before continue-as-new
    done: int = 0
    every_seconds: float = 7 * 24 * 3600


@workflow.defn
class WeeklyForever:
    """The sleep loop made to run for ever: continue-as-new every `per_run` weeks keeps each history short."""

    @workflow.run
    async def run(self, plan: Forever) -> int:
        for _ in range(plan.per_run):
            plan.done += 1
            await workflow.execute_activity_method(DigestTools.write_digest, plan.done, start_to_close_timeout=timedelta(seconds=10))
            if plan.done == plan.cycles:
                return plan.done
            await workflow.sleep(timedelta(seconds=plan.every_seconds), summary=f"wait for week {plan.done + 1}")
        workflow.continue_as_new(plan)
