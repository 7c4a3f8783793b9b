"""Re-record lesson 12's golden histories (run: python -m labs.research.record). Replay tests keep code compatible."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from temporalio.client import Client
from temporalio.worker import Replayer, Worker

from lab_support.history import save_history
from lab_support.llm import start_model
from lab_support.server import start_dev_server
from lab_support.workers import build_id, wait_result

from .demo import HISTORIES, ensure_search_attributes, open_desk, script_model, wait_status
from .v1 import ExecutorUnpatched, ExecutorV1
from .workflows import Executor, Planner, ResearchRequest, ReviewDecision, Task, Validator, WeeklyResearch

GOLDEN = {"planner": "planner.json", "executor": "executor.json", "executor_v1": "executor_v1.json"}
IDS = {"planner": "research-golden", "executor": "research-golden-q1", "executor_v1": "executor-v1-golden"}


async def replay_all(folder: Path = HISTORIES, executor: type = Executor) -> dict[str, str]:
    """Replay every golden history with today's code (`executor` swaps the Executor); name -> "ok" or the error."""
    from lab_support.history import load_history
    from lab_support.server import quiet_runtime

    quiet_runtime()  # replay failures are results here, not log lines
    replayer = Replayer(workflows=[Planner, executor, Validator, WeeklyResearch])
    out = {}
    for name, file in GOLDEN.items():
        result = await replayer.replay_workflow(load_history(folder / file, IDS[name]), raise_on_replay_failure=False)
        failure = result.replay_failure
        if failure is None:
            out[name] = "ok"
        else:
            found = re.search(r"\[TMPRL\d+\][^\"]*", str(failure))
            out[name] = found.group(0)[:160] if found else f"{type(failure).__name__}: {str(failure)[:160]}"
    return out


async def record(client: Client, folder: Path = HISTORIES) -> None:
    """Run the agent (clean, one rejection) and a pre-patch executor; save their histories into `folder`."""
    from .worker import worker_options

    model = start_model(fake=True)
    desk = open_desk(model, "12-record")
    script_model(model, uncited_first=1)
    await ensure_search_attributes(client)
    try:
        options = worker_options(**desk.worker_config())
        async with Worker(client, task_queue="research-golden", build_id=build_id(__file__), **options):
            handle = await client.start_workflow(Planner.run, ResearchRequest("durable agents", time_scale=0.1),
                                                 id=IDS["planner"], task_queue="research-golden")
            await wait_status(handle, "awaiting review")
            await handle.execute_update(Planner.review, ReviewDecision(False, "Name the failure each answer covers."))
            await wait_status(handle, "awaiting review")
            await handle.execute_update(Planner.review, ReviewDecision(True))
            await wait_result(handle)
            save_history(await handle.fetch_history(), folder / GOLDEN["planner"])
            save_history(await client.get_workflow_handle(f"{handle.id}-q1").fetch_history(), folder / GOLDEN["executor"])
        options["workflows"] = [ExecutorV1]
        async with Worker(client, task_queue="research-golden-v1", build_id=build_id(__file__), **options):
            handle = await client.start_workflow(ExecutorV1.run, Task("How does a workflow continue after a crash?", 0.1),
                                                 id=IDS["executor_v1"], task_queue="research-golden-v1")
            await wait_result(handle)
            save_history(await handle.fetch_history(), folder / GOLDEN["executor_v1"])
    finally:
        desk.close()
        model.stop()


async def main() -> None:
    lab = await start_dev_server(ui=False)
    try:
        HISTORIES.mkdir(exist_ok=True)
        await record(lab.client)
        print(await replay_all())
        print("unpatched:", await replay_all(executor=ExecutorUnpatched))
    finally:
        await lab.close()


if __name__ == "__main__":
    asyncio.run(main())
