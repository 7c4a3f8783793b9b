"""A 429 with `Retry-After: 3600` must not park an agent for an hour (lessons 02 and 11): the wait is capped.

The next attempt's time is read from the server (`describe()`'s pending activity), not waited for.
"""

from __future__ import annotations

import uuid

import pytest

from temporalio.client import Client

from lab_support.llm import agents_plugin, start_model
from lab_support.workers import KernelWorker
from labs.retries.activities import MAX_RETRY_AFTER
from labs.retries.pending import next_attempt


async def test_lesson_02_classifier_caps_an_hour_long_retry_after(lab, tmp_path):
    from labs.retries.workflows import Ask, AskModel, Policy

    model = start_model(fake=True)
    try:
        async with KernelWorker(lab, "labs.retries.worker", ledger=str(tmp_path / "l.db"), **model.worker_config()) as w:
            model.rate_limit(times=1, retry_after=3600).say("late")
            handle = await lab.client.start_workflow(AskModel.run, Ask("q", Policy(initial_interval=0.5)),
                                                     id=f"ask-{uuid.uuid4().hex[:6]}", task_queue=w.task_queue)
            waiting = await next_attempt(handle)
            await handle.terminate("measured")
        assert waiting.attempt == 2 and "3600" in waiting.last_failure
        assert MAX_RETRY_AFTER - 1 <= waiting.wait <= MAX_RETRY_AFTER + 1, waiting  # honoured, up to the cap
    finally:
        model.stop()


@pytest.mark.long(20)  # seconds in a full run: started early (conftest.py)
async def test_agents_plugin_caps_an_hour_long_retry_after(lab):
    from labs.agent_loop.agents_sdk import AgentsResearch

    model = start_model(fake=True)
    client = Client(lab.client.service_client, namespace=lab.namespace, plugins=[agents_plugin(model, max_retry_after=5)])
    try:
        async with KernelWorker(client, "labs.agent_loop.agents_sdk") as worker:
            model.rate_limit(times=1, retry_after=3600)
            handle = await client.start_workflow(AgentsResearch.run, "q", id=f"sdk-{uuid.uuid4().hex[:6]}",
                                                 task_queue=worker.task_queue, memo={"model": model.name})
            waiting = await next_attempt(handle)
            await handle.terminate("measured")
        assert waiting.activity == "invoke_model_activity" and waiting.attempt == 2
        assert 4 <= waiting.wait <= 6, waiting  # Retry-After 3600, capped at 5 s
        assert list(model.requests()["retry_after"]) == [3600]  # the model really asked for an hour
    finally:
        model.stop()


async def test_exercise_check_refuses_an_uncapped_retry_after(lab):
    from lab_support.exercises import check

    verdict = await check("retries", lab, module="tests.fixtures.wrong_retries_uncapped")
    assert verdict.status == "not yet" and "3600" in verdict.message and "min(" in (verdict.hint or "")
