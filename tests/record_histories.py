"""Re-record the committed histories in tests/fixtures/histories (run: python -m tests.record_histories).

Each is a real run on the embedded dev server. Replay tests keep today's code compatible with them.
"""

from __future__ import annotations

import asyncio
import subprocess
import tempfile
from pathlib import Path

from temporalio.worker import Worker

from lab_support.history import fetch_history, save_history
from lab_support.ledger import Ledger
from lab_support.server import find_binary, start_dev_server
from lab_support.workers import KernelWorker, SubprocessWorker, wait_result, wait_running

from .kitchen_sink import ChildAgent, KitchenSink, flaky, steady

OUT = Path(__file__).parent / "fixtures" / "histories"


async def main() -> None:
    lab = await start_dev_server(ui=False)
    try:
        # 1. kitchen sink: retries, timer, signal, update, child, patch marker
        async with Worker(lab.client, task_queue="sink", workflows=[KitchenSink, ChildAgent], activities=[flaky, steady]):
            handle = await lab.client.start_workflow(KitchenSink.run, id="kitchen-sink", task_queue="sink")
            while not any(e.HasField("timer_fired_event_attributes") for e in (await handle.fetch_history()).events):
                await asyncio.sleep(0.1)
            await handle.execute_update(KitchenSink.edit, "final plan")
            await handle.signal(KitchenSink.approve)
            await wait_result(handle)
        save_history(await fetch_history(handle), OUT / "kitchen_sink.json")
        exported = subprocess.run(
            [find_binary("temporal"), "workflow", "show", "-w", "kitchen-sink", "-o", "json", "--address", lab.address],
            capture_output=True, text=True, check=True,
        ).stdout
        (OUT / "kitchen_sink.cli.json").write_text(exported)

        # 2. lesson 00: the durable research agent, worker SIGKILLed during step 5
        from labs.why_durable.workflows import ResearchAgent, ResearchRequest

        ledger = Ledger(Path(tempfile.mkdtemp()) / "ledger.db")
        worker = SubprocessWorker(lab, "labs.why_durable.worker", ledger=str(ledger.path)).start()
        handle = await lab.client.start_workflow(ResearchAgent.run, ResearchRequest("golden"), id="research-golden",
                                                 task_queue=worker.task_queue)
        await wait_running(handle, nth=5)
        worker.kill()
        worker.restart()
        await wait_result(handle)
        worker.stop()
        save_history(await fetch_history(handle), OUT / "why_durable_crash.json")

        # 3. lesson 01: the support agent
        from labs.replay.activities import Ticket
        from labs.replay.workflows import SupportAgent

        async with KernelWorker(lab, "labs.replay.worker") as kw:
            handle = await lab.client.start_workflow(SupportAgent.run, Ticket("T-1", "refund please"),
                                                     id="support-golden", task_queue=kw.task_queue)
            await wait_result(handle)
        save_history(await fetch_history(handle), OUT / "replay_support_agent.json")

        # 4. lesson 02: a 500 burst then a 429 on the local model; 5. lesson 11: the agent loop, crashed
        from lab_support.llm import start_model
        from labs.agent_loop.demo import script_research
        from labs.agent_loop.workflows import Question, ResearchLoop
        from labs.retries.workflows import Ask, AskModel, Policy

        model = start_model(fake=True)
        try:
            config = dict(ledger=str(ledger.path), **model.worker_config())
            async with KernelWorker(lab, "labs.retries.worker", **config) as kw:
                model.server_error(2).rate_limit(1, retry_after=1).say("ok")
                handle = await lab.client.start_workflow(AskModel.run, Ask("q", Policy(initial_interval=0.2)),
                                                         id="retries-golden", task_queue=kw.task_queue)
                await wait_result(handle)
            save_history(await fetch_history(handle), OUT / "retries_ask_model.json")
            worker = SubprocessWorker(lab, "labs.agent_loop.worker", **config).start()
            script_research(model)
            handle = await lab.client.start_workflow(ResearchLoop.run, Question("q"), id="agent-loop-golden",
                                                     task_queue=worker.task_queue)
            await wait_running(handle, activity="read_page")
            worker.kill()
            worker.restart()
            await wait_result(handle)
            worker.stop()
            save_history(await fetch_history(handle), OUT / "agent_loop_crash.json")
        finally:
            model.stop()

        await record_lessons_03_to_09(lab, ledger)
        await record_lessons_03_and_10_new(lab, ledger)
    finally:
        await lab.close()


async def record_lessons_03_to_09(lab, ledger: Ledger) -> None:
    """Lessons 03, 04, 05, 06, 07 and 09: one characteristic run each."""
    from lab_support.history import fetch_runs, wait_event
    from lab_support.server import start_time_skipping
    from labs.approval.workflows import Goal, PlanApproval
    from labs.cancellation.workflows import CrawlAgent, Job
    from labs.monitor.grade import LIMITS
    from labs.monitor.workflows import Feed, Monitor
    from labs.multi_agent.workflows import Mission, Planner
    from labs.saga.activities import Trip
    from labs.saga.workflows import BookTrip
    from labs.timers.workflows import Weekly, WeeklyResearch

    config = {"ledger": str(ledger.path)}
    skipping = await start_time_skipping()
    try:
        async with KernelWorker(skipping, "labs.timers.worker", **config) as kw:
            handle = await skipping.client.start_workflow(WeeklyResearch.run, Weekly(cycles=3), id="weekly-golden",
                                                          task_queue=kw.task_queue)
            await wait_result(handle)
            save_history(await fetch_history(handle), OUT / "timers_weekly.json")
    finally:
        await skipping.close()
    async with KernelWorker(lab, "labs.approval.worker", **config) as kw:
        handle = await lab.client.start_workflow(PlanApproval.run, Goal("golden"), id="approval-golden",
                                                 task_queue=kw.task_queue)
        await wait_event(handle, "ActivityTaskCompleted")
        await handle.execute_update(PlanApproval.edit_plan, ["one", "two"])
        await handle.signal(PlanApproval.approve)
        await wait_result(handle)
        save_history(await fetch_history(handle), OUT / "approval_plan.json")
    async with KernelWorker(lab, "labs.cancellation.worker", **config) as kw:
        handle = await lab.client.start_workflow(CrawlAgent.run, Job("golden"), id="cancel-golden",
                                                 task_queue=kw.task_queue)
        await wait_running(handle)
        await handle.cancel()
        try:
            await wait_result(handle)
        except Exception:  # noqa: BLE001 - cancelled, as intended
            pass
        save_history(await fetch_history(handle), OUT / "cancellation_crawl.json")
    async with KernelWorker(lab, "labs.multi_agent.worker", **config) as kw:
        handle = await lab.client.start_workflow(Planner.run, Mission("golden"), id="planner-golden",
                                                 task_queue=kw.task_queue)
        await wait_result(handle)
        save_history(await fetch_history(handle), OUT / "multi_agent_planner.json")
    async with KernelWorker(lab, "labs.saga.worker", **config) as kw:
        handle = await lab.client.start_workflow(BookTrip.run, Trip("golden", fail_at="charge"), id="saga-golden",
                                                 task_queue=kw.task_queue)
        try:
            await wait_result(handle)
        except Exception:  # noqa: BLE001 - the declined card, as intended
            pass
        save_history(await fetch_history(handle), OUT / "saga_declined.json")
    limited = await start_dev_server(ui=False, dynamic_config=LIMITS)
    try:
        async with KernelWorker(limited, "labs.monitor.worker") as kw:
            handle = await limited.client.start_workflow(Monitor.run, Feed("golden", total_checks=30),
                                                         id="monitor-golden", task_queue=kw.task_queue)
            for i in range(5):
                await limited.client.get_workflow_handle("monitor-golden").signal(Monitor.report, str(i))
            await wait_result(handle)
            runs = await fetch_runs(limited, "monitor-golden")
            save_history(runs[0], OUT / "monitor_first_run.json")
    finally:
        await limited.close()


async def record_lessons_03_and_10_new(lab, ledger: Ledger) -> None:
    """Lesson 03's scheduled DigestRun and continue-as-new loop; lesson 10's Steps (activities)."""
    from labs.scaling.cost import StepPlan, Steps
    from labs.timers.workflows import DigestJob, DigestRun, Forever, WeeklyForever

    async with KernelWorker(lab, "labs.timers.worker", ledger=str(ledger.path)) as kw:
        handle = await lab.client.start_workflow(DigestRun.run, DigestJob("golden"), id="digest-golden", task_queue=kw.task_queue)
        await wait_result(handle)
        save_history(await fetch_history(handle), OUT / "timers_digest_run.json")
        handle = await lab.client.start_workflow(WeeklyForever.run, Forever(cycles=3, per_run=2, every_seconds=1),
                                                 id="forever-golden", task_queue=kw.task_queue)
        await wait_result(handle)
        runs = await fetch_runs_of(lab, handle)
        save_history(runs[0], OUT / "timers_forever_first_run.json")
    async with KernelWorker(lab, "labs.scaling.worker", role="cost") as kw:
        handle = await lab.client.start_workflow(Steps.run, StepPlan("activity", 2), id="steps-golden", task_queue=kw.task_queue)
        await wait_result(handle)
        save_history(await fetch_history(handle), OUT / "scaling_steps_activity.json")


async def fetch_runs_of(lab, handle):
    """Every run of a continue-as-new chain, first run first."""
    from lab_support.history import fetch_runs

    return await fetch_runs(lab, handle.id, handle.first_execution_run_id)


if __name__ == "__main__":
    asyncio.run(main())
