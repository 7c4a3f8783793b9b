"""The tool calls as Temporal activities: same work, but Temporal records each result."""

from __future__ import annotations

from temporalio import activity

# Imported when the worker starts, not inside the first step: a fresh worker process on a busy machine
# took over a second to import the ledger (pandas) there, without heartbeating, and the step it had just
# taken over timed out and started once more.
from lab_support.ledger import Ledger  # noqa: F401

from .steps import STEP_SECONDS, perform


class ResearchTools:
    """Activities bound to one ledger file (the worker is configured with its path)."""

    def __init__(self, ledger: str, step_seconds: float = STEP_SECONDS) -> None:
        self.ledger, self.step_seconds = ledger, step_seconds

    @activity.defn
    async def run_step(self, step: int) -> str:
        """One tool call. Heartbeats, so a crashed worker is noticed within the heartbeat timeout."""
        info = activity.info()
        return await perform(step, self.ledger, actor="durable", key=info.workflow_id,
                             attempt=info.attempt, beat=activity.heartbeat, seconds=self.step_seconds)
