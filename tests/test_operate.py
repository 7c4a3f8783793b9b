"""Lesson 13: step_through by real replay, rerun_from by reset, pause/unpause, traces, search attributes, grader."""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from temporalio.client import Client, WorkflowHistory

from lab_support.exercises import check
from lab_support.history import load_history, to_frame
from lab_support.ledger import Ledger
from lab_support.llm import start_model
from lab_support.server import LabError, start_dev_server
from lab_support.timetravel import reset_point, rerun_from, step_through
from lab_support.workers import KernelWorker, SubprocessWorker, wait_result, wait_running
from labs.operate import demo
from labs.operate.activities import price_v2
from labs.operate.tracing import read_spans
from labs.operate.workflows import OperateAgent, Task

from .record_histories import record_operate_states

FIXTURES = Path(__file__).parent / "fixtures" / "histories"


def _same_state(replayed_row, live: dict) -> bool:
    return all(replayed_row[k] == v for k, v in live.items())


async def test_step_through_committed_history_matches_live_queries():
    history = load_history(FIXTURES / "operate_agent.json")
    live = {int(k): v for k, v in json.loads((FIXTURES / "operate_agent.states.json").read_text()).items()}
    steps = await step_through(history, OperateAgent)
    assert list(steps["event_id"]) == sorted(live), "one row per workflow task, at the tasks the live run had"
    for row in steps.itertuples(index=False):
        assert _same_state(row._asdict(), live[row.event_id]), f"task {row.task}: replayed state differs from live query"
    assert steps["step"].is_monotonic_increasing and steps["status"].iloc[-1] == "done"
    from_file = await step_through(str(FIXTURES / "operate_agent.json"), OperateAgent)  # a saved JSON file works too
    assert from_file.drop(columns=["t"]).equals(steps.drop(columns=["t"]))


async def test_step_through_live_handle_matches_live_queries(lab):
    handle, live = await record_operate_states(lab.client, steps=3)
    steps = await step_through(handle, OperateAgent)
    assert list(steps["event_id"]) == sorted(live)
    for row in steps.itertuples(index=False):
        assert _same_state(row._asdict(), live[row.event_id])
    assert steps["events"].iloc[0].startswith("WorkflowExecutionStarted")


async def test_step_through_any_workflow_with_a_state_query():
    from labs.agent_loop.workflows import ResearchLoop

    steps = await step_through(FIXTURES / "agent_loop_crash.json", ResearchLoop)  # lesson 11's run, worker killed
    sizes = [len(conversation) for conversation in steps["state"]]
    assert sizes == sorted(sizes) and sizes[0] == 2, "the conversation grows one message per task"
    assert steps["commands"].iloc[-1] == "complete_workflow_execution"


async def test_step_through_errors():
    history = load_history(FIXTURES / "operate_agent.json")
    with pytest.raises(LabError, match="not a @workflow.defn"):
        await step_through(history, dict)
    with pytest.raises(LabError, match="query"):
        await step_through(history, OperateAgent, query="nope")


@pytest.fixture
async def agent_env(lab):
    model = start_model(fake=True)
    ledger = Ledger(Path(tempfile.mkdtemp()) / "ledger.db")
    yield model, ledger
    model.stop()


async def test_rerun_from_step_6_reuses_steps_1_to_5(lab, agent_env):
    model, ledger = agent_env
    config = dict(ledger=str(ledger.path), **model.worker_config())
    buggy = await KernelWorker(lab, "labs.operate.worker", tool_version="v1", **config).start()
    handle = await demo.start_agent(lab.client, buggy.task_queue)
    first = await wait_result(handle, timeout=60)
    await buggy.stop()
    fixed = await KernelWorker(lab, "labs.operate.worker", task_queue=buggy.task_queue, tool_version="v2", **config).start()
    try:
        new = await rerun_from(handle, step=6)
        second = await wait_result(new, timeout=60)
    finally:
        await fixed.stop()
    assert new.run_id != handle.run_id
    tools = ledger.frame("tool")
    assert sorted(tools.loc[tools["name"] == "price@v1", "step"]) == list(range(1, 11))
    assert sorted(tools.loc[tools["name"] == "price@v2", "step"]) == list(range(6, 11)), "steps 1-5 not run again"
    assert sorted(ledger.frame("model")["step"]) == sorted(list(range(1, 11)) + list(range(6, 11)))
    assert first.lines["tokyo-region"] != second.lines["tokyo-region"] == price_v2("tokyo-region")
    assert second.total_usd == round(sum(price_v2(i) for i in second.lines), 2)


async def test_rerun_from_reapplies_signals_only_when_asked(lab, agent_env):
    model, ledger = agent_env
    async with KernelWorker(lab, "labs.operate.worker", ledger=str(ledger.path), **model.worker_config()) as w:
        async def reviewed_run():
            handle = await demo.start_agent(lab.client, w.task_queue, Task(steps=8, review_before=7))
            await demo.find_runs(lab.client, f"WorkflowId = '{handle.id}' AND AgentStatus = 'waiting for review'", 1)
            await handle.signal(OperateAgent.review)  # after step 6 was scheduled, so after the reset point
            await wait_result(handle, timeout=30)
            return handle

        kept = await rerun_from(await reviewed_run(), step=6)
        assert len((await wait_result(kept, timeout=30)).lines) == 8, "the review signal was re-applied"
        dropped = await rerun_from(await reviewed_run(), step=6, reapply_signals=False)
        runs = await demo.find_runs(lab.client, f"WorkflowId = '{dropped.id}' AND AgentStatus = 'waiting for review' "
                                                "AND ExecutionStatus = 'Running'", 1)
        assert [r.run_id for r in runs] == [dropped.run_id], "without the signal the new run waits for a review again"
        await dropped.terminate("test done")


async def test_rerun_from_errors(lab, sink_history):
    history = load_history(FIXTURES / "operate_agent.json")
    with pytest.raises(LabError, match="Step 12 never ran"):
        reset_point(history, 12)
    with pytest.raises(LabError, match="never ran"):
        reset_point(history, activity="send_email")
    with pytest.raises(LabError, match="no steps"):
        reset_point(sink_history, 1)
    sliced = [e for e in history.events if not e.HasField("workflow_task_completed_event_attributes")]
    with pytest.raises(LabError, match="no point to reset to"):
        reset_point(sliced, 2)
    assert reset_point(history, 2) == reset_point(history, activity="call_model", nth=2)
    gone = Client(lab.client.service_client, namespace=f"closed-{uuid.uuid4().hex[:6]}")
    with pytest.raises(LabError, match="does not exist"):
        await rerun_from(gone.get_workflow_handle("any"), step=1)


async def test_rerun_from_on_a_closed_lab_says_so():
    private = await start_dev_server(ui=False)
    handle = private.client.get_workflow_handle("any", run_id="00000000-0000-0000-0000-000000000000")
    await private.close()
    with pytest.raises(LabError, match="does not answer"):
        await rerun_from(handle, step=1)


async def test_pause_activity_stops_model_requests_then_run_completes(lab, agent_env):
    model, ledger = agent_env
    async with KernelWorker(lab, "labs.operate.worker", ledger=str(ledger.path), **model.worker_config()) as w:
        model.rate_limit(times=1000, retry_after=0.2)
        handle = await demo.start_agent(lab.client, w.task_queue, Task(steps=2))
        while len(model.requests()) < 3:  # the storm: every attempt is a 429
            await asyncio.sleep(0.05)
        await demo.pause_activity(handle, "1-model")
        paused = await demo.wait_paused(handle, "1-model")
        assert paused["paused"] and paused["last_failure"] and "rate limited" in paused["last_failure"]
        before = len(model.requests())
        await asyncio.sleep(1.5)  # 7 retry intervals of 0.2 s
        assert len(model.requests()) == before, "no attempt while paused"
        demo.end_storm(model)
        options = await demo.update_activity_options(handle, "1-model", initial_interval=0.1, maximum_interval=0.5,
                                                     start_to_close=5)
        assert options.start_to_close_timeout.ToMilliseconds() == 5000
        await demo.unpause_activity(handle, "1-model")
        bill = await wait_result(handle, timeout=30)
    assert len(bill.lines) == 2 and len(model.requests()) > before


async def _workflow_tasks_started(handle) -> int:
    return sum(e.HasField("workflow_task_started_event_attributes") for e in (await handle.fetch_history()).events)


async def test_workflow_pause_shows_paused_not_a_crash():
    lab = await start_dev_server(ui=False, dynamic_config={"frontend.WorkflowPauseEnabled": True})
    model = start_model(fake=True)
    ledger = Ledger(Path(tempfile.mkdtemp()) / "ledger.db")
    try:
        async with KernelWorker(lab, "labs.operate.worker", ledger=str(ledger.path), tool_seconds=0.3,
                                **model.worker_config()) as w:
            handle = await demo.start_agent(lab.client, w.task_queue, Task(steps=3))
            await wait_running(handle, nth=2)
            await demo.pause_workflow(handle)
            with pytest.raises(ValueError, match="8 is not a valid"):
                await handle.describe()  # the SDK gap this lesson works around
            assert (await demo.describe_raw(handle))["status"] == "PAUSED"
            await demo.wait_idle(handle)
            started_tasks, effects = await _workflow_tasks_started(handle), ledger.count()
            await asyncio.sleep(1.0)
            assert (await _workflow_tasks_started(handle), ledger.count()) == (started_tasks, effects), "nothing moves"
            assert (await demo.describe_raw(handle))["status"] == "PAUSED"
            await demo.unpause_workflow(handle)
            assert (await demo.describe_raw(handle))["status"] == "RUNNING"
            assert len((await wait_result(handle, timeout=30)).lines) == 3
    finally:
        model.stop()
        await lab.close()


async def test_replay_safe_spans_have_no_duplicates_naive_ones_do(lab, agent_env, tmp_path):
    model, ledger = agent_env
    worker = SubprocessWorker(lab, "labs.operate.worker", ledger=str(ledger.path), tool_seconds=0.3,
                              trace_dir=str(tmp_path), **model.worker_config()).start()
    try:
        from labs.operate.tracing import traced_client

        client = traced_client(lab.client, tmp_path)
        handle = await demo.start_agent(client, worker.task_queue, Task(steps=6, naive_spans=True))
        await wait_running(handle, nth=8)  # the tool of step 4
        worker.kill()
        worker.start()
        await wait_result(handle, timeout=60)
    finally:
        worker.stop()
    spans = read_spans(tmp_path)
    events = (await handle.fetch_history()).events
    scheduled = sum(e.HasField("activity_task_scheduled_event_attributes") for e in events)
    safe = spans[spans["name"].str.startswith("StartActivity:")]
    assert len(safe) == scheduled == 12, "one StartActivity span per scheduled activity, none from replay"
    assert (spans["name"] == "RunWorkflow:OperateAgent").sum() == 1
    naive = spans[spans["name"].str.startswith("naive step")]
    assert naive["name"].nunique() == 6 and len(naive) > 6, "replay after the kill re-emitted the naive spans"
    assert spans["pid"].nunique() == 3, "spans from this process and both worker processes"


async def test_search_attributes_find_runs(lab, agent_env):
    model, ledger = agent_env
    async with KernelWorker(lab, "labs.operate.worker", ledger=str(ledger.path), **model.worker_config()) as w:
        tag = uuid.uuid4().hex[:6]
        waiting = await demo.start_agent(lab.client, w.task_queue, Task(review_before=7), prefix=f"find-{tag}")
        early = await demo.start_agent(lab.client, w.task_queue, Task(review_before=3), prefix=f"find-{tag}")
        found = await demo.find_runs(lab.client, f"WorkflowId STARTS_WITH 'find-{tag}' AND AgentStatus = 'waiting for review'", 2)
        late = await demo.find_runs(lab.client, f"WorkflowId STARTS_WITH 'find-{tag}' AND AgentStatus = 'waiting for review' "
                                                "AND AgentStep > 5", 1)
        assert {r.id for r in found} == {waiting.id, early.id} and [r.id for r in late] == [waiting.id]
        for h in (waiting, early):
            await h.signal(OperateAgent.review)
            await wait_result(h, timeout=30)


@pytest.mark.parametrize("module, status, words", [
    ("solution", "passed", "steps 1-5"),
    ("exercise", "not attempted", "todo("),
    ("tests.fixtures.wrong_operate", "not yet", "step 6"),
])
async def test_grader(lab, module, status, words):
    verdict = await check("operate", lab, module=module)
    assert verdict.status == status, str(verdict)
    assert words in verdict.message + (verdict.hint or "")


async def test_a_reset_point_is_not_a_stuck_workflow_task(lab, agent_env):
    """A reset run's history marks the reset point with a WorkflowTaskFailed (cause RESET_WORKFLOW): routine, so
    wait_result must not call the workflow stuck (seen under load when the new run's next task came late)."""
    from lab_support.workers import _last_task_failure

    model, ledger = agent_env
    async with KernelWorker(lab, "labs.operate.worker", ledger=str(ledger.path), **model.worker_config()) as w:
        handle = await demo.start_agent(lab.client, w.task_queue, Task(steps=3))
        await wait_result(handle, timeout=30)
    new = await rerun_from(handle, step=2)  # no worker runs now: the new run waits just after its reset point
    try:
        tasks = to_frame(await new.fetch_history())
        tasks = tasks[tasks["category"] == "workflow task"]["type"].tolist()
        assert "WorkflowTaskFailed" in tasks and "WorkflowTaskCompleted" not in tasks[tasks.index("WorkflowTaskFailed"):]
        assert await _last_task_failure(new) is None
    finally:
        await new.terminate(reason="test done")
