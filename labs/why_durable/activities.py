"""The tool calls as Temporal activities: same work, but Temporal records each result."""

from __future__ import annotations

from temporalio import activity

from .steps import perform


class ResearchTools:
    """Activities bound to one ledger file (the worker is configured with its path)."""

    def __init__(self, ledger: str) -> None:
        self.ledger = ledger

    @activity.defn
    async def run_step(self, step: int) -> str:
        """One tool call. Heartbeats, so a crashed worker is noticed within the heartbeat timeout."""
        info = activity.info()
        return await perform(step, self.ledger, actor="durable", key=info.workflow_id,
                             attempt=info.attempt, beat=activity.heartbeat)
