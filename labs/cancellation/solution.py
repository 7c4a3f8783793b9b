"""Solution 09 - cancellation-safe cleanup."""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from .activities import CrawlTools
    from .workflows import Job


@workflow.defn(name="TidyAgent")
class TidyAgent:
    @workflow.run
    async def run(self, job: Job) -> list[str]:
        pages = []
        try:
            for step in range(1, job.steps + 1):
                pages.append(await workflow.execute_activity_method(
                    CrawlTools.crawl, step, start_to_close_timeout=timedelta(seconds=60),
                    heartbeat_timeout=timedelta(seconds=2)))
            return pages
        except BaseException as err:  # cancellation arrives as CancelledError or as an ActivityError caused by it
            if not is_cancelled_exception(err):
                raise
            await workflow.execute_activity_method(CrawlTools.release_resources, job.name,
                                                   start_to_close_timeout=timedelta(seconds=10))
            raise
