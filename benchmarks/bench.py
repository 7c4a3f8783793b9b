"""Measure the lab's speed targets (design §6). Run: .venv/bin/python benchmarks/bench.py [--notebooks] [--capstone]

Prints one line per measurement. Targets: first workflow result within 2 s of setup, crash recovery
under 3 s, a 50,000-event history to a DataFrame and a timeline in under 3 s, each notebook under 45 s.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def line(name: str, value: float, unit: str, target: str = "") -> None:
    print(f"{name:<56} {value:8.2f} {unit:<3} {target}", flush=True)


async def server_and_first_result() -> None:
    from lab_support import KernelWorker, setup, wait_result
    from labs.replay.activities import Ticket
    from labs.replay.workflows import SupportAgent

    starts, firsts = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        lab = await setup(own_server=True)
        starts.append(time.perf_counter() - t0)
        async with KernelWorker(lab, "labs.replay.worker") as worker:
            handle = await lab.client.start_workflow(SupportAgent.run, Ticket("1", "refund"), id="b1",
                                                     task_queue=worker.task_queue)
            await wait_result(handle)
        firsts.append(time.perf_counter() - t0)
        await lab.close()
    line("dev server start (median of 3)", statistics.median(starts), "s")
    line("setup -> first workflow result (median of 3)", statistics.median(firsts), "s", "target < 2 s")


async def crash_recovery() -> None:
    from lab_support import Ledger, SubprocessWorker, setup, wait_result
    from lab_support.workers import wait_running
    from labs.why_durable.workflows import ResearchAgent, ResearchRequest

    lab = await setup(own_server=True, ui=False)
    recoveries, totals = [], []
    for _ in range(3):
        ledger = Ledger(Path(tempfile.mkdtemp()) / "l.db")
        worker = SubprocessWorker(lab, "labs.why_durable.worker", ledger=str(ledger.path)).start()
        handle = await lab.client.start_workflow(ResearchAgent.run, ResearchRequest("b"),
                                                 id=f"b-{uuid.uuid4().hex[:6]}", task_queue=worker.task_queue)
        await wait_running(handle, nth=5)
        killed = worker.kill()
        worker.restart()
        await wait_result(handle)
        done = time.time()
        worker.stop()
        effects = ledger.frame("durable")
        resumed = effects[effects["started"] > killed].iloc[0]
        recoveries.append(resumed["started"] - killed)
        totals.append(done - killed)
    await lab.close()
    line("SIGKILL -> in-flight step restarted (median of 3)", statistics.median(recoveries), "s", "target < 3 s")
    line("SIGKILL -> workflow complete, 4 steps left (median)", statistics.median(totals), "s")


async def server_crash_recovery() -> None:
    from lab_support import Ledger, SubprocessWorker, wait_result
    from lab_support.server import ServerProcess
    from lab_support.workers import wait_running
    from labs.why_durable.workflows import ResearchAgent, ResearchRequest

    firsts, totals = [], []
    for _ in range(5):
        folder = Path(tempfile.mkdtemp())
        server = await ServerProcess(folder / "temporal.db").start()
        lab = await server.lab()
        ledger = Ledger(folder / "l.db")
        worker = SubprocessWorker(lab, "labs.why_durable.worker", ledger=str(ledger.path)).start()
        handle = await lab.client.start_workflow(ResearchAgent.run, ResearchRequest("b", heartbeat_timeout=30),
                                                 id=f"b-{uuid.uuid4().hex[:6]}", task_queue=worker.task_queue)
        await wait_running(handle, nth=4)  # kill mid-step, as notebook 00 does
        server.kill()
        await asyncio.sleep(1)  # a one-second outage
        await server.start()
        back = time.time()
        await wait_result(handle, timeout=60)
        totals.append(time.time() - back)
        worker.stop()
        server.kill()
        effects = ledger.frame("durable")
        firsts.append(effects[effects["finished"] > back]["finished"].min() - back)
    line("server SIGKILL+restart -> next step done (median of 5)", statistics.median(firsts), "s")
    line("  worst of 5", max(firsts), "s")
    line("server restart -> workflow complete (median of 5)", statistics.median(totals), "s")


def big_history() -> None:
    from temporalio.client import WorkflowHistory

    from lab_support.history import load_history, to_frame
    from lab_support.plots import timeline

    base = load_history(ROOT / "tests" / "fixtures" / "histories" / "why_durable_crash.json")
    head, cycle = base.events[:4], base.events[4:10]  # one activity + its workflow task, 6 events
    events = list(head)
    step = 0
    while len(events) < 50_000:
        step += 1
        offset = len(events) - 4
        for e in cycle:
            e2 = type(e)()
            e2.CopyFrom(e)
            e2.event_id = e.event_id + offset
            which = e2.WhichOneof("attributes")
            attrs = getattr(e2, which)
            for field in ("scheduled_event_id", "started_event_id"):
                if field in attrs.DESCRIPTOR.fields_by_name and getattr(attrs, field):
                    setattr(attrs, field, getattr(attrs, field) + offset)
            if which == "activity_task_scheduled_event_attributes":
                attrs.activity_id = str(step)
            e2.event_time.FromNanoseconds(e.event_time.ToNanoseconds() + step * 10_000_000)
            events.append(e2)
    history = WorkflowHistory("big", events)
    t0 = time.perf_counter()
    df = to_frame(history)
    t1 = time.perf_counter()
    fig = timeline(df)
    fig._repr_png_()
    t2 = time.perf_counter()
    line(f"{len(df)}-event history -> DataFrame", t1 - t0, "s")
    line(f"{len(df)}-event history -> timeline PNG", t2 - t1, "s")
    line(f"{len(df)}-event history -> both", t2 - t0, "s", "target < 3 s")


async def conversation() -> None:
    """Lesson 14: interrupt and reconnect latencies, and the history budget of a 14-turn session."""
    from lab_support import KernelWorker, fetch_history, setup, to_frame, wait_running
    from lab_support.llm import start_model
    from labs.conversation.budget import LIMITS, long_session, turn_bytes
    from labs.conversation.session import follow, pace, say
    from labs.conversation.storage import claim_check_converter, with_converter
    from labs.conversation.workflows import Session

    lab = await setup(own_server=True, ui=False, dynamic_config=LIMITS)
    model = start_model(fake=True)
    worker = await KernelWorker(lab, "labs.conversation.worker", **model.worker_config()).start()
    cancels, replies = [], []
    for _ in range(3):
        chat = Session(f"bench-int-{uuid.uuid4().hex[:6]}")
        await say(lab.client, chat, "hi", worker.task_queue)
        model.slow(4)
        slow = asyncio.ensure_future(say(lab.client, chat, "a long essay", worker.task_queue))
        handle = lab.client.get_workflow_handle(chat.session_id)
        await wait_running(handle, "chat", nth=2)
        t0 = time.time()
        await say(lab.client, chat, "the short answer", worker.task_queue)
        replies.append(time.time() - t0)
        await slow
        events = to_frame(await fetch_history(handle))
        cancels.append(events.loc[events["type"] == "ActivityTaskCanceled", "time"].iloc[0].timestamp() - t0)
    line("interrupt: new message -> model call canceled (median)", statistics.median(cancels), "s")
    line("interrupt: new message -> its reply (median of 3)", statistics.median(replies), "s")
    pace(model, 20)
    model.say("word " * 60)
    streamed = Session(f"bench-stream-{uuid.uuid4().hex[:6]}", stream=True)
    await say(lab.client, streamed, "stream please", worker.task_queue)
    everything = await follow(lab.client, streamed.session_id)
    reconnects = []
    for offset in (10, 30, 50):
        t0 = time.time()
        assert await follow(lab.client, streamed.session_id, from_offset=offset) == everything[offset:]
        reconnects.append(time.time() - t0)
    line("stream reconnect from an offset, rest delivered (median)", statistics.median(reconnects), "s")
    claims = with_converter(lab.client, claim_check_converter(Path(tempfile.mkdtemp()) / "claims"))
    claim_worker = await KernelWorker(claims, "labs.conversation.worker", **model.worker_config()).start()
    for name, client, session, queue in [
        ("naive", lab.client, Session(f"bench-naive-{uuid.uuid4().hex[:6]}"), worker.task_queue),
        ("summary", lab.client, Session(f"bench-sum-{uuid.uuid4().hex[:6]}", memory="summary"), worker.task_queue),
        ("claim check", claims, Session(f"bench-cc-{uuid.uuid4().hex[:6]}"), claim_worker.task_queue),
    ]:
        run = await long_session(client, session, 14, queue)
        frame = await turn_bytes(client, session.session_id, run["first_run_id"])
        line(f"budget {name}: turns answered of 14 (128 KiB limit)", run["answered"], "")
        line(f"budget {name}: history KiB, all runs", frame["bytes"].sum() / 1024, "KiB")
    await claim_worker.stop()
    await worker.stop()
    model.stop()
    await lab.close()


def write_big_history(path: Path, n: int = 50_000) -> Path:
    """A realistic n-event history file (the SDK's JSON): one activity + its workflow task per 6 events, 50 ms apart."""
    import json
    from datetime import datetime, timezone

    base = json.loads((ROOT / "tests" / "fixtures" / "histories" / "why_durable_crash.json").read_text())["events"]
    head, cycle = base[:4], base[4:10]  # one activity + its workflow task, 6 events
    ns = [int(pd_ns(e["eventTime"])) for e in cycle]
    period = ns[-1] - ns[0] + 50_000_000
    events = [json.loads(json.dumps(e)) for e in head]
    step = 0
    while len(events) < n:
        step += 1
        offset = len(events) - 4
        for e, t in zip(cycle, ns):
            e2 = json.loads(json.dumps(e))
            e2["eventId"] = str(int(e["eventId"]) + offset)
            attrs = next(v for k, v in e2.items() if k.endswith("EventAttributes"))
            for field in ("scheduledEventId", "startedEventId"):
                if field in attrs:
                    attrs[field] = str(int(attrs[field]) + offset)
            if "activityId" in attrs:
                attrs["activityId"] = str(step)
            t2 = t + (step - 1) * period
            e2["eventTime"] = datetime.fromtimestamp(t2 // 10**9, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + f".{t2 % 10**9:09d}Z"
            events.append(e2)
    path.write_text(json.dumps({"events": events[:n]}))
    return path


def pd_ns(text: str) -> int:
    import pandas as pd

    return pd.Timestamp(text).value


def big_history_file() -> None:
    """A saved 50,000-event history JSON file -> load_history + to_frame, and -> timeline PNG (design §6 target)."""
    from lab_support.history import load_history, to_frame
    from lab_support.plots import timeline

    path = write_big_history(Path(tempfile.mkdtemp()) / "big.json")
    t0, c0 = time.perf_counter(), time.process_time()
    df = to_frame(load_history(path))
    t1, c1 = time.perf_counter(), time.process_time()
    timeline(df)._repr_png_()
    t2, c2 = time.perf_counter(), time.process_time()
    size = path.stat().st_size / 1e6
    line(f"{len(df)}-event file ({size:.0f} MB) -> DataFrame", t1 - t0, "s", f"(cpu {c1 - c0:.2f} s)")
    line(f"{len(df)}-event DataFrame -> timeline PNG", t2 - t1, "s", f"(cpu {c2 - c1:.2f} s)")
    line(f"{len(df)}-event file -> DataFrame + timeline", t2 - t0, "s", f"target < 3 s (cpu {c2 - c0:.2f} s)")
    path.unlink()


async def durability_cost() -> None:
    """Lesson 10's cost of one sequential durable step (median of 3 runs per kind, own dev server)."""
    from lab_support import KernelWorker, setup
    from labs.scaling.cost import measure_costs

    lab = await setup(own_server=True, ui=False)
    try:
        async with KernelWorker(lab, "labs.scaling.worker", role="cost") as worker:
            costs = await measure_costs(lab.client, worker.task_queue, repeats=3)
    finally:
        await lab.close()
    for row in costs.itertuples(index=False):
        seconds, rate, events = row[2], row[3], row[4]
        value, unit = (seconds * 1e6, "µs") if seconds < 1e-3 else (seconds * 1e3, "ms")
        line(f"durable step: {row[0]} ({rate:,.0f} steps/s; {events:g} events/step)", value, unit)


def notebooks() -> None:
    import nbformat
    from nbclient import NotebookClient

    total = 0.0
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        t0 = time.perf_counter()
        NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
        took = time.perf_counter() - t0
        total += took
        line(f"notebook {path.name}", took, "s", "target < 45 s")
    line("all notebooks", total, "s", "target < 240 s")


async def operate_step_through_and_reset() -> None:
    """Lesson 13: step_through on a ~1,000-event history (real Replayer), and reset call -> new run's first step."""
    from temporalio import activity
    from temporalio.worker import Worker

    from lab_support import setup
    from lab_support.timetravel import rerun_from, step_through
    from lab_support.workers import wait_result
    from labs.operate.activities import ModelReply, price_v2
    from labs.operate.demo import start_agent
    from labs.operate.workflows import OperateAgent, Task

    first_call: list[float] = []

    @activity.defn(name="call_model")
    async def call_model(step, messages):
        first_call.append(time.time())
        return ModelReply(f"step {step}", [])

    @activity.defn(name="price")
    async def price(step, item):
        return price_v2(item)

    lab = await setup(ui=False)
    try:
        task_queue = f"bench-operate-{uuid.uuid4().hex[:6]}"
        async with Worker(lab.client, task_queue=task_queue, workflows=[OperateAgent], activities=[call_model, price]):
            handle = await start_agent(lab.client, task_queue, Task(steps=71), prefix="bench-operate")
            await wait_result(handle, timeout=300)
            history = await handle.fetch_history()
            t0 = time.perf_counter()
            steps = await step_through(history, OperateAgent)
            line(f"step_through, {len(history.events)} events ({len(steps)} workflow tasks)", time.perf_counter() - t0, "s")
            from temporalio.worker import Replayer

            from lab_support.server import quiet_runtime

            t0 = time.perf_counter()
            await Replayer(workflows=[OperateAgent], runtime=quiet_runtime()).replay_workflow(history)
            line(f"plain Replayer.replay_workflow, same {len(history.events)} events", time.perf_counter() - t0, "s")
            first_call.clear()
            called = time.time()
            new = await rerun_from(handle, step=6)
            await wait_result(new, timeout=300)
            line("reset call -> new run's first activity (step 6) starts", first_call[0] - called, "s")
    finally:
        await lab.close()


def capstone() -> None:
    """Notebook 12's run time and the recovery time of each fault of its under-fire run (read from its outputs)."""
    import re

    import nbformat
    from nbclient import NotebookClient

    path = ROOT / "notebooks" / "12_capstone_research_agent.ipynb"
    nb = nbformat.read(path, as_version=4)
    t0 = time.perf_counter()
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    line("notebook 12 (capstone, under fire)", time.perf_counter() - t0, "s", "target < 60 s")
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith("recovery = demo.recovery"))
    table = "".join(o.get("data", {}).get("text/plain", "") for o in cell.outputs)
    for fault in ("500 burst on search", "429 storm on the model", "worker SIGKILLed in retrieve",
                  "Temporal server SIGKILLed in synthesis"):
        found = re.search(re.escape(fault) + r"\s+([0-9.]+)", table)
        if found:
            line(f"capstone recovery: {fault}", float(found.group(1)), "s")


async def main() -> None:
    await server_and_first_result()
    await crash_recovery()
    await server_crash_recovery()
    big_history()
    await conversation()
    big_history_file()
    await operate_step_through_and_reset()
    await durability_cost()
    if "--notebooks" in sys.argv:
        notebooks()
    if "--capstone" in sys.argv:
        capstone()


if __name__ == "__main__":
    asyncio.run(main())
