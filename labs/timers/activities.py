"""The weekly research agent's one activity: write this week's digest (recorded in the ledger)."""

from __future__ import annotations

from temporalio import activity

from lab_support.ledger import Ledger


class DigestTools:
    def __init__(self, ledger: str) -> None:
        self.ledger = Ledger(ledger)

    @activity.defn(name="write_digest")
    async def write_digest(self, cycle: int) -> str:
        """Research the week's news and write a digest (here: one ledger row)."""
        info = activity.info()
        self.ledger.record("digest", cycle, "write_digest", key=info.workflow_id, attempt=info.attempt)
        return f"digest #{cycle}"

    @activity.defn(name="send_reminder")
    async def send_reminder(self, text: str) -> str:
        """Remind someone (here: one ledger row)."""
        info = activity.info()
        self.ledger.record("reminder", 0, text, key=info.workflow_id, attempt=info.attempt)
        return f"reminded: {text}"
