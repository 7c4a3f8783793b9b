"""Check for exercise 12: retrieve survives a busy embedding backend (bounded retries, heartbeat timeout), and a
failed announcement leaves no published report (retracted), with the workflow failing."""

from __future__ import annotations

import uuid
from types import ModuleType

from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Worker

from lab_support.exercises import Verdict, not_yet, passed, stuck_verdict
from lab_support.llm import start_model
from lab_support.workers import WorkflowTaskFailed, build_id, wait_result

from .activities import published
from .demo import QUESTIONS, open_desk, script_model
from .worker import worker_options
from .workflows import OneQuestion, root_cause

HINTS = [
    "`retrieve_options` returns a dict: `start_to_close_timeout=timedelta(seconds=120)`, "
    "`heartbeat_timeout=timedelta(seconds=2)`, `retry_policy=RetryPolicy(initial_interval=..., maximum_attempts=5)`.",
    "Wrap publish and announce in `try:`; in `except BaseException:` run `ResearchActivities.retract` with "
    "`**options(\"undo\", scale)`, then `raise` so the caller learns the run failed.",
    "A heartbeat timeout is what lets Temporal notice a SIGKILLed worker in seconds; without it the attempt is only "
    "given up after the whole start-to-close timeout.",
]


async def grade(client: Client, module: ModuleType) -> Verdict:
    """Run ResearchOne with a busy embedding backend (first retrieve attempt fails) and a failing announcement."""
    model = start_model(fake=True)
    desk = open_desk(model, "12-check")
    script_model(model, questions=[QUESTIONS[1]])
    task_queue = f"check-research-{uuid.uuid4().hex[:8]}"
    try:
        options = worker_options(**desk.worker_config(fail_announce=True, flaky_retrieve=1))
        options["workflows"] = [module.ResearchOne]
        async with Worker(client, task_queue=task_queue, build_id=build_id(__file__), **options):
            handle = await client.start_workflow(module.ResearchOne.run, OneQuestion(QUESTIONS[1], 0.1),
                                                 id=f"check-research-{uuid.uuid4().hex[:8]}", task_queue=task_queue)
            try:
                await wait_result(handle, timeout=60)
                failure = None
            except WorkflowTaskFailed as e:
                return await stuck_verdict(handle, e, "research", HINTS[0])
            except WorkflowFailureError as e:
                failure = root_cause(e)
        retrieve = [e.activity_task_scheduled_event_attributes for e in (await handle.fetch_history()).events
                    if e.HasField("activity_task_scheduled_event_attributes")
                    and e.activity_task_scheduled_event_attributes.activity_type.name == "retrieve"]
        if not retrieve:
            return not_yet("The retrieve step never ran.", HINTS[0])
        policy = retrieve[0].retry_policy
        if not retrieve[0].heartbeat_timeout.ToTimedelta():
            return not_yet("The retrieve step has no heartbeat timeout.", HINTS[2])
        if not 2 <= policy.maximum_attempts <= 10:
            which = "unlimited" if policy.maximum_attempts == 0 else str(policy.maximum_attempts)
            return not_yet(f"The retrieve step allows {which} attempts; give it a bounded number (2-10), "
                           "enough to ride out a busy backend.", HINTS[0])
        if desk.ledger.count("publish") != 1:
            return not_yet(f"The report was published {desk.ledger.count('publish')} times (expected once) "
                           f"- {failure}", HINTS[1])
        if published(desk.reports_db):
            return not_yet("The announcement failed, yet the report stays published: a half-published report.",
                           HINTS[1])
        if failure is None:
            return not_yet("The report was retracted, but the workflow completed as if all went well; re-raise.",
                           HINTS[1])
        return passed(f"retrieve rode out a busy backend (max {policy.maximum_attempts} attempts, heartbeat "
                      f"{retrieve[0].heartbeat_timeout.ToTimedelta().total_seconds():g} s); the failed announcement "
                      f"retracted the report and the run failed with: {failure}")
    finally:
        desk.close()
        model.stop()
