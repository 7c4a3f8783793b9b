"""Record one golden history per generation into labs/versioning/histories (python -m labs.versioning.record)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from lab_support.history import fetch_history, save_history
from lab_support.server import start_dev_server
from lab_support.workers import KernelWorker, wait_result

from .common import Topic

HISTORIES = Path(__file__).parent / "histories"


async def main() -> None:
    lab = await start_dev_server(ui=False)
    try:
        for generation in ("v1", "v2", "v3", "v4"):
            async with KernelWorker(lab, "labs.versioning.worker", generation=generation) as worker:
                handle = await lab.client.start_workflow("ResearchPipeline", Topic(f"golden {generation}"),
                                                         id=f"pipeline-{generation}", task_queue=worker.task_queue)
                await wait_result(handle)
            save_history(await fetch_history(handle), HISTORIES / f"{generation}.json")
    finally:
        await lab.close()


if __name__ == "__main__":
    asyncio.run(main())
