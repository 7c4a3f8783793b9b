"""Exercise 09 - clean up when the user presses stop.

`TidyAgent` crawls pages. When it is cancelled, it must run the `release_resources` activity (close
the browser, free the lock) and still end as CANCELED. Replace the `todo(...)`, save, then run the
check cell in notebook 09.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import is_cancelled_exception

with workflow.unsafe.imports_passed_through():
    from lab_support.exercises import todo

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
            # TODO: run CrawlTools.release_resources(job.name) as an activity, then re-raise the
            #       cancellation so that the workflow ends as CANCELED.
            todo("clean up, then re-raise")
