"""A crawling agent the user can stop: cancellation reaches the running tool, cleanup still runs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import is_cancelled_exception
from temporalio.workflow import ActivityCancellationType

with workflow.unsafe.imports_passed_through():
    from .activities import CrawlTools


@dataclass
class Job:
    name: str
    steps: int = 3
    heartbeats: bool = True


@workflow.defn
class CrawlAgent:
    @workflow.run
    async def run(self, job: Job) -> list[str]:
        pages = []
        try:
            for step in range(1, job.steps + 1):
                pages.append(await workflow.execute_activity_method(
                    CrawlTools.crawl if job.heartbeats else CrawlTools.crawl_silently, step,
                    start_to_close_timeout=timedelta(seconds=60),
                    heartbeat_timeout=timedelta(seconds=1) if job.heartbeats else None,
                    # wait until the activity has really stopped before going on to the cleanup
                    cancellation_type=ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
                ))
            return pages
        except BaseException as err:  # cancellation arrives as CancelledError or as an ActivityError caused by it
            if not is_cancelled_exception(err):
                raise
            # The workflow is being cancelled. It may still run activities: clean up, then re-raise so the
            # workflow ends as CANCELED (not completed, not failed).
            await workflow.execute_activity_method(CrawlTools.release_resources, job.name,
                                                   start_to_close_timeout=timedelta(seconds=10))
            raise
