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
    if "--notebooks" in sys.argv:
        notebooks()
    if "--capstone" in sys.argv:
        capstone()


if __name__ == "__main__":
    asyncio.run(main())
