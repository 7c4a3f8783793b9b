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
