"""The weekly agent after a code change: it now sends a reminder before each digest.

Harmless for a new run; but a run that is asleep in the old loop wakes up under this code, which replays
its history and meets a different first step (notebook 03 shows the `NondeterminismError`).
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .activities import DigestTools
    from .workflows import Weekly


@workflow.defn(name="WeeklyResearch")
class WeeklyResearch:
    @workflow.run
    async def run(self, plan: Weekly) -> list[str]:
        digests = []
        for cycle in range(1, plan.cycles + 1):
            await workflow.execute_activity_method(DigestTools.send_reminder, f"digest {cycle} coming",
                                                   start_to_close_timeout=timedelta(seconds=10))
            digests.append(await workflow.execute_activity_method(
                DigestTools.write_digest, cycle, start_to_close_timeout=timedelta(seconds=10)))
            if cycle < plan.cycles:
                await workflow.sleep(timedelta(seconds=plan.every_seconds), summary=f"wait for week {cycle + 1}")
        return digests
