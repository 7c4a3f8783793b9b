"""Lessons 03 and 10, the new parts: dev-server time skipping, Schedules vs loops vs cron, the cost of a
durable step, priority and fairness on a shared queue, standalone activities."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.common import ActivityIDReusePolicy, Priority
from temporalio.exceptions import ActivityAlreadyStartedError

from lab_support.exercises import check
from lab_support.history import fetch_history, load_history, to_frame, wait_event
from lab_support.ledger import Ledger
from lab_support.server import setup, start_dev_server
from lab_support.workers import KernelWorker, SubprocessWorker, wait_result

HISTORIES = Path(__file__).parent / "fixtures" / "histories"


@pytest.fixture(scope="module")
async def skipping():
    lab = await setup(time_skipping="dev", ui=False)
    yield lab
    await lab.close()


# -- time skipping on the dev server ------------------------------------------------------------------

async def test_dev_server_skips_a_week_and_runs_real_time_beside_it(skipping, tmp_path):
    from labs.timers.workflows import Weekly, WeeklyResearch

    assert skipping.kind == "dev (time-skipping)" and skipping.env.supports_time_skipping_v2
    async with KernelWorker(skipping, "labs.timers.worker", ledger=str(tmp_path / "l.db")) as worker:
        week = await skipping.client.start_workflow(WeeklyResearch.run, Weekly(cycles=2), id=f"w-{uuid.uuid4().hex[:6]}",
                                                    task_queue=worker.task_queue)
        with skipping.env.with_time_skipping_disabled():
            real = await skipping.client.start_workflow(WeeklyResearch.run, Weekly(cycles=2, every_seconds=1),
                                                        id=f"r-{uuid.uuid4().hex[:6]}", task_queue=worker.task_queue)
        assert await wait_result(week, timeout=30) == ["digest #1", "digest #2"]
        await wait_result(real, timeout=30)
    skipped, wall = to_frame(await week.fetch_history()), to_frame(await real.fetch_history())
    assert skipped["t"].iloc[-1] >= 7 * 86400
    assert wall["t"].iloc[-1] < 60 and "WorkflowExecutionTimeSkippingTransitioned" not in set(wall["type"])
    assert (await skipping.env.get_time_skipping_info(real)) is None


async def test_skipped_timer_fires_while_the_worker_is_dead(skipping, tmp_path):
    from labs.timers.workflows import Weekly, WeeklyResearch

    ledger = Ledger(tmp_path / "l.db")
    worker = SubprocessWorker(skipping, "labs.timers.worker", ledger=str(ledger.path)).start()
    try:
        handle = await skipping.client.start_workflow(WeeklyResearch.run, Weekly(cycles=2), id=f"d-{uuid.uuid4().hex[:6]}",
                                                      task_queue=worker.task_queue)
        await wait_event(handle, "TimerStarted")
        worker.kill()
        await wait_event(handle, "TimerFired", timeout=30)  # a week later in workflow time, no worker alive
        worker.restart()
        assert await wait_result(handle, timeout=30) == ["digest #1", "digest #2"]
    finally:
        worker.stop()
    assert list(ledger.frame("digest")["step"]) == [1, 2]


async def test_fast_forward_then_update_mid_wait(skipping, tmp_path):
    from labs.approval.workflows import Goal, PlanApproval

    async with KernelWorker(skipping, "labs.approval.worker", ledger=str(tmp_path / "l.db")) as worker:
        with skipping.env.with_time_skipping_disabled():
            handle = await skipping.client.start_workflow(PlanApproval.run, Goal("g", 3 * 86400),
                                                          id=f"a-{uuid.uuid4().hex[:6]}", task_queue=worker.task_queue)
        await wait_event(handle, "ActivityTaskCompleted")
        assert await skipping.env.fast_forward(handle, timedelta(days=1))
        assert await handle.execute_update(PlanApproval.edit_plan, ["a", "b"]) == ["a", "b"]
        await skipping.env.fast_forward(handle)  # the rest of the 3-day wait
        assert (await wait_result(handle)).startswith("escalated")
    frame = to_frame(await handle.fetch_history())
    accepted = frame.loc[frame["type"] == "WorkflowExecutionUpdateAccepted", "t"].iloc[0]
    assert 86400 <= accepted < 2 * 86400, "the update landed one (virtual) day into the wait"
    assert frame["t"].iloc[-1] >= 3 * 86400


# -- Schedules, loops, cron ---------------------------------------------------------------------------

async def test_schedule_upcoming_trigger_backfill_pause(skipping, tmp_path):
    from datetime import datetime, timezone

    from temporalio.client import ScheduleBackfill, ScheduleOverlapPolicy

    from labs.timers.schedules import events, wait_actions, weekly_digest

    async with KernelWorker(skipping, "labs.timers.worker", ledger=str(tmp_path / "l.db")) as worker:
        sid = f"s-{uuid.uuid4().hex[:6]}"
        handle = await skipping.client.create_schedule(sid, weekly_digest(worker.task_queue, f"{sid}-run"))
        try:
            upcoming = (await handle.describe()).info.next_action_times[:3]
            assert [(t.weekday(), t.hour, t.minute) for t in upcoming] == [(0, 9, 0)] * 3
            now = datetime.now(timezone.utc)
            await handle.trigger()
            await wait_actions(handle, 1)  # sent together, the schedule may take the backfill first and skip the trigger
            await handle.backfill(ScheduleBackfill(start_at=now - timedelta(days=14), end_at=now,
                                                   overlap=ScheduleOverlapPolicy.ALLOW_ALL))
            d = await wait_actions(handle, 3)
            assert d.info.num_actions == 3 and not d.info.running_actions
            await handle.pause(note="x")
            assert (await handle.describe()).schedule.state.paused
            run = d.info.recent_actions[0].action
            history = await fetch_history(skipping.client.get_workflow_handle(run.workflow_id))
            assert events(history) == 11 and not any(e.HasField("timer_started_event_attributes") for e in history.events)
        finally:
            await handle.delete()


async def test_history_cost_loop_vs_continue_as_new_vs_cron(skipping, tmp_path):
    from labs.timers.schedules import chain, cost_row
    from labs.timers.workflows import DigestJob, DigestRun, Forever, Weekly, WeeklyForever, WeeklyResearch

    async with KernelWorker(skipping, "labs.timers.worker", ledger=str(tmp_path / "l.db")) as worker:
        loop = await skipping.client.start_workflow(WeeklyResearch.run, Weekly(cycles=3), id=f"l-{uuid.uuid4().hex[:6]}",
                                                    task_queue=worker.task_queue)
        forever = await skipping.client.start_workflow(WeeklyForever.run, Forever(cycles=3, per_run=1),
                                                       id=f"f-{uuid.uuid4().hex[:6]}", task_queue=worker.task_queue)
        with skipping.env.with_time_skipping_disabled():
            cron = await skipping.client.start_workflow(DigestRun.run, DigestJob("c"), id=f"c-{uuid.uuid4().hex[:6]}",
                                                        task_queue=worker.task_queue, cron_schedule="@every 1s")
        loops, forevers, crons = await asyncio.gather(chain(skipping.client, loop.id, loop.first_execution_run_id, 1),
                                                      chain(skipping.client, forever.id, forever.first_execution_run_id, 3),
                                                      chain(skipping.client, cron.id, cron.first_execution_run_id, 2))
        await cron.terminate()
    one, can, cr = cost_row("loop", loops, 3), cost_row("can", forevers, 3), cost_row("cron", crons, 2)
    assert can["histories"] == 3 and cr["histories"] == 2
    assert one["largest history"] > can["largest history"] > cr["largest history"] == 11


async def test_changed_loop_no_longer_replays_its_history():
    from temporalio.worker import Replayer
    from temporalio.workflow import NondeterminismError

    from labs.timers.changed import WeeklyResearch as Changed
    from labs.timers.workflows import WeeklyResearch

    history = load_history(HISTORIES / "timers_weekly.json")
    await Replayer(workflows=[WeeklyResearch]).replay_workflow(history)
    result = await Replayer(workflows=[Changed]).replay_workflow(history, raise_on_replay_failure=False)
    assert isinstance(result.replay_failure, NondeterminismError)


async def test_wrong_schedule_gets_the_calendar_hint():
    verdict = await check("timers", module="tests.fixtures.wrong_timers_schedule")
    assert verdict.status == "not yet" and "weekdays at 08:30" in verdict.message
    assert "ScheduleCalendarSpec" in (verdict.hint or "")


@pytest.mark.parametrize("file, workflow", [
    ("timers_digest_run.json", "DigestRun"),
    ("timers_forever_first_run.json", "WeeklyForever"),
    ("scaling_steps_activity.json", "Steps"),
])
async def test_new_golden_histories_replay(file, workflow):
    from temporalio.worker import Replayer

    from labs.scaling import cost
    from labs.timers import workflows

    defn = getattr(workflows, workflow, None) or getattr(cost, workflow)
    await Replayer(workflows=[defn, cost.AddOne]).replay_workflow(load_history(HISTORIES / file))


# -- lesson 10 ----------------------------------------------------------------------------------------

async def test_cost_of_a_durable_step(lab):
    from labs.scaling.cost import KINDS, measure_costs

    async with KernelWorker(lab, "labs.scaling.worker", role="cost") as worker:
        costs = await measure_costs(lab.client, worker.task_queue, repeats=1,
                                    n={"plain call": 1000, "local activity": 3, "activity": 3, "child workflow": 2})
    per = costs.set_index("step")
    assert list(per.index) == KINDS
    assert list(per["history events per step"]) [:3] == [0, 1, 6]
    assert per.loc["child workflow", "history events per step"] > 6
    assert per.loc["plain call", "seconds per step"] < per.loc["activity", "seconds per step"]
    assert (per["steps / s"] * per["seconds per step"]).round(6).eq(1).all()


async def test_unknown_step_kind_fails_the_workflow(lab):
    from temporalio.client import WorkflowFailureError

    from labs.scaling.cost import StepPlan, Steps

    async with KernelWorker(lab, "labs.scaling.worker", role="cost") as worker:
        handle = await lab.client.start_workflow(Steps.run, StepPlan("teleport", 1), id=f"k-{uuid.uuid4().hex[:6]}",
                                                 task_queue=worker.task_queue)
        with pytest.raises(WorkflowFailureError):
            await wait_result(handle, timeout=30)


async def test_priority_and_fairness_on_the_dev_server():
    from labs.scaling.queueing import FAIRNESS, ONE_PARTITION, Group, drain, start_sequence, waits

    plain, fair = await asyncio.gather(start_dev_server(ui=False, dynamic_config=ONE_PARTITION),
                                       start_dev_server(ui=False, dynamic_config=FAIRNESS))
    try:
        by_class = await drain(plain.client, [Group("batch", 6, Priority(priority_key=5)),
                                              Group("interactive", 2, Priority(priority_key=1))])
        tenants = [Group("acme", 6, Priority(fairness_key="acme", fairness_weight=1.0)),
                   Group("zeta", 6, Priority(fairness_key="zeta", fairness_weight=3.0))]
        fifo, weighted = await drain(plain.client, tenants), await drain(fair.client, tenants)
    finally:
        await plain.close()
        await fair.close()
    assert start_sequence(by_class).startswith("ii")
    table = waits(by_class).set_index("class")
    assert table.loc["interactive", "median wait (s)"] < table.loc["batch", "median wait (s)"]
    fifo_positions = waits(fifo).set_index("class")["mean start position"]
    assert fifo_positions["acme"] < fifo_positions["zeta"], "fairness off: roughly first in, first out"
    positions = waits(weighted).set_index("class")["mean start position"]
    assert positions["zeta"] < positions["acme"]


async def test_standalone_activity_dedupes_by_id(lab, tmp_path):
    from labs.scaling.standalone import start_summary, summary_id

    ledger = Ledger(tmp_path / "calls.db")
    doc = f"doc-{uuid.uuid4().hex[:6]}"
    async with KernelWorker(lab, "labs.scaling.worker", role="standalone", ledger=str(ledger.path)) as worker:
        a, b = await asyncio.gather(start_summary(lab.client, worker.task_queue, doc), start_summary(lab.client, worker.task_queue, doc))
        assert a.id == b.id == summary_id(doc) and a.run_id == b.run_id
        assert await a.result() == await b.result() == f"summary of {doc}"
        with pytest.raises(ActivityAlreadyStartedError):
            await start_summary(lab.client, worker.task_queue, doc, reuse=ActivityIDReusePolicy.REJECT_DUPLICATE)
        c = await start_summary(lab.client, worker.task_queue, doc)
        await c.result()
    assert c.run_id != a.run_id and ledger.count("summarize") == 2
