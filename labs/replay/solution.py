"""Solution 01 - the triage agent, durable and replay-safe."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .activities import Ticket, classify
    from .exercise import Triage


@workflow.defn(name="TriageAgent")
class TriageAgent:
    @workflow.run
    async def run(self, ticket: Ticket) -> Triage:
        # The model call is an activity: its result is recorded once and replayed from history.
        label = await workflow.execute_activity(classify, ticket, start_to_close_timeout=timedelta(seconds=10))
        # workflow.now() is the time of the current workflow task, recorded in history: replay-safe.
        return Triage(ticket.id, label, workflow.now())
