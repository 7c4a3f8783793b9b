"""Worker for lesson 09. Run: python -m labs.cancellation.worker (configured through LAB_* variables)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .activities import CrawlTools
from .workflows import CrawlAgent


def worker_options(ledger: str) -> dict[str, Any]:
    """Workflows, activities and options of this lesson's worker."""
    tools = CrawlTools(ledger)
    return {
        "workflows": [CrawlAgent],
        "activities": [tools.crawl, tools.crawl_silently, tools.release_resources],
        # On SIGTERM, let running activities finish for up to 10 s (the SDK's default is 0: cancelled at once).
        "graceful_shutdown_timeout": timedelta(seconds=10),
        # No sticky cache. With one, a killed worker's workflow tasks wait on its sticky queue (up to
        # sticky_queue_schedule_to_start_timeout, 10 s); a gracefully shut down worker tells the server to
        # release it; without a cache neither waits. The cost: every workflow task replays the whole history.
        "max_cached_workflows": 0,
    }


if __name__ == "__main__":
    from lab_support.workers import main

    main(worker_options)
