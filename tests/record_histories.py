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


def write_dialects() -> None:
    """The lesson-02 history (retries_ask_model.json) in every JSON shape a Temporal user meets, written to
    fixtures/histories/dialects/ (offline: python -c "from tests.record_histories import write_dialects as w; w()").
    The shapes copy real exports (Temporal CLI/SDK, tctl, the Web UI and its API, 2020-era servers)."""
    import base64
    import copy
    import json
    import re

    out = OUT / "dialects"
    out.mkdir(exist_ok=True)
    base = json.loads((OUT / "retries_ask_model.json").read_text())["events"]

    def write(name: str, data: object) -> None:
        (out / name).write_text(json.dumps(data, indent=1) + "\n")

    def pascal(enum: str, prefix: str) -> str:
        return "".join(w.capitalize() for w in enum.removeprefix(prefix).split("_"))

    def walk(value: object, fix) -> object:  # apply fix(key, value) -> (key, value) to every field, depth first
        if isinstance(value, dict):
            return dict(fix(k, walk(v, fix)) for k, v in value.items())
        if isinstance(value, list):
            return [walk(v, fix) for v in value]
        return value

    def short_enums(k: str, v: object) -> tuple[str, object]:  # tctl / old Web UI downloads
        if k == "eventType":
            return k, pascal(v, "EVENT_TYPE_")
        if k == "kind":
            return k, pascal(v, "TASK_QUEUE_KIND_")
        return k, v

    write("sdk_to_json.json", {"events": base})  # WorkflowHistory.to_json / temporal workflow show -o json
    write("pascal_short_enums.json", {"events": walk(base, short_enums)})
    write("bare_array.json", base)
    other = copy.deepcopy(base)
    other[0]["workflowExecutionStartedEventAttributes"]["workflowId"] = "retries-other"
    write("list_of_histories.json", [{"events": base}, {"events": other[:5]}])
    write("api_response.json", {"history": {"events": base}, "rawHistory": [], "nextPageToken": None, "archived": False})

    def decoded(k: str, v: object) -> tuple[str, object]:  # the Web UI shows payloads decoded
        if k == "payloads":
            return k, [json.loads(base64.b64decode(p["data"])) for p in v]
        return k, v

    ui = []
    for e in reversed(base):  # newest first, each event decorated with the UI's own fields
        e = walk(walk(e, short_enums), decoded)
        key = next(k for k in e if k.endswith("EventAttributes"))
        e.update(attributes={"type": key, **e[key]}, category="activity" if "activity" in key else "workflow",
                 classification=re.sub("([A-Z])", r" \1", e["eventType"]).split()[-1], id=e["eventId"],
                 name=e["eventType"], timestamp=e["eventTime"][:10] + " UTC " + e["eventTime"][11:22])
        ui.append(e)
    write("webui_descending.json", ui)

    def to_2020(k: str, v: object) -> tuple[str, object]:  # Temporal < 1.0: decision tasks, task lists, seconds
        if isinstance(v, str):
            v = v.replace("WORKFLOW_TASK", "DECISION_TASK").replace("TASK_QUEUE_KIND", "TASK_LIST_KIND")
        k = k.replace("workflowTask", "decisionTask").replace("taskQueue", "taskList")
        if k.endswith("Timeout") and isinstance(v, str) and re.fullmatch(r"\d+s", v):
            return k + "Seconds", int(v[:-1])
        return k, v

    def nanos(e: dict) -> dict:
        t = e.pop("eventTime")
        whole, frac = t.rstrip("Z").split(".")
        seconds = int(__import__("datetime").datetime.fromisoformat(whole + "+00:00").timestamp())
        return {"eventId": e.pop("eventId"), "timestamp": str(seconds * 10**9 + int((frac + "000000000")[:9])), **e}

    write("legacy_2020_decision_enum.json", {"events": [nanos(walk(e, to_2020)) for e in base]})

    def to_tctl(k: str, v: object) -> tuple[str, object]:
        k, v = short_enums(k, v)
        if isinstance(v, str):
            v = v.replace("WorkflowTask", "DecisionTask")
        return k.replace("workflowTask", "decisionTask"), v

    write("legacy_pascal_decision.json", {"events": [walk(e, to_tctl) for e in base]})
    future = copy.deepcopy(base[:5])
    future.append({"eventId": "6", "eventTime": base[5]["eventTime"], "eventType": "EVENT_TYPE_WORKFLOW_EXECUTION_HIBERNATED",
                   "taskId": "1048999", "workflowExecutionHibernatedEventAttributes": {"reason": "a type from a newer server"}})
    write("unknown_type.json", {"events": future})



async def record_operate_states(client, steps: int = 4):
    """Lesson 13: run OperateAgent with activities that wait at a gate; while each waits, the workflow is idle,
    so its `state` query is the state after the task that scheduled it. Returns the handle and
    {WorkflowTaskStarted event id of that task: live state}, the final task's state included."""
    import json
    import uuid

    from temporalio import activity

    from labs.operate.activities import ModelReply, price_v2
    from labs.operate.demo import start_agent
    from labs.operate.workflows import OperateAgent, Task

    arrived: asyncio.Queue[asyncio.Event] = asyncio.Queue()

    async def gate() -> None:
        release = asyncio.Event()
        await arrived.put(release)
        await release.wait()

    @activity.defn(name="call_model")
    async def call_model(step, messages):  # no annotations: they would be resolved in this module's globals
        await gate()
        return ModelReply(f"Step {step}: I will price the next item.", [])

    @activity.defn(name="price")
    async def price(step, item):
        await gate()
        return price_v2(item)

    async def state_after_last_task(handle) -> tuple[int, dict]:
        events = (await handle.fetch_history()).events
        last = max(e.event_id for e in events if e.HasField("workflow_task_started_event_attributes"))
        return last, json.loads(json.dumps(await handle.query(OperateAgent.state)))

    live: dict[int, dict] = {}
    task_queue = f"operate-record-{uuid.uuid4().hex[:6]}"
    async with Worker(client, task_queue=task_queue, workflows=[OperateAgent], activities=[call_model, price]):
        handle = await start_agent(client, task_queue, Task(steps=steps), prefix="operate-golden")
        for _ in range(2 * steps):
            release = await asyncio.wait_for(arrived.get(), 30)
            key, state = await state_after_last_task(handle)
            live[key] = state
            release.set()
        await wait_result(handle)
        key, state = await state_after_last_task(handle)
        live[key] = state
    return handle, live


async def record_operate() -> None:
    """Re-record tests/fixtures/histories/operate_agent.json and the live states next to it."""
    import json

    lab = await start_dev_server(ui=False)
    try:
        handle, live = await record_operate_states(lab.client, steps=4)
        save_history(await fetch_history(handle), OUT / "operate_agent.json")
        (OUT / "operate_agent.states.json").write_text(json.dumps(live, indent=1))
    finally:
        await lab.close()


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
