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
        await ledger.wait_for(4, actor="durable")
        await wait_running(handle)
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
    finally:
        await lab.close()


if __name__ == "__main__":
    asyncio.run(main())
