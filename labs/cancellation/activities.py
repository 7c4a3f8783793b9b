"""Long tool calls: one that heartbeats (and so hears a cancellation), one that does not; and cleanup."""

from __future__ import annotations

import asyncio
import time

from temporalio import activity

from lab_support.ledger import Ledger

CRAWL_SECONDS = 2.0


class CrawlTools:
    def __init__(self, ledger: str) -> None:
        self.ledger = Ledger(ledger)

    def _note(self, what: str, step: int, started: float) -> None:
        info = activity.info()
        self.ledger.record(what, step, info.activity_type, key=info.workflow_id, attempt=info.attempt, started=started)

    @activity.defn(name="crawl")
    async def crawl(self, step: int) -> str:
        """Crawl for a while, heartbeating: a cancellation arrives as CancelledError at the next heartbeat."""
        started = time.time()
        try:
            while time.time() < started + CRAWL_SECONDS:
                activity.heartbeat(step)
                await asyncio.sleep(0.1)
        except asyncio.CancelledError:
            self._note("cancelled", step, started)  # stop the work, tidy up, and let Temporal know
            raise
        self._note("crawled", step, started)
        return f"page {step}"

    @activity.defn(name="crawl_silently")
    async def crawl_silently(self, step: int) -> str:
        """The same work without heartbeats: it cannot hear a cancellation and runs to the end."""
        started = time.time()
        await asyncio.sleep(CRAWL_SECONDS)
        self._note("crawled", step, started)
        return f"page {step}"

    @activity.defn(name="release_resources")
    async def release_resources(self, job: str) -> str:
        """Cleanup: close the browser, release the lock, tell the user (a side effect)."""
        self._note("released", 0, time.time())
        return f"released {job}"
