"""Check for exercise 10: pool_size on known bursts, then one real burst with that many workers."""

from __future__ import annotations

import math
import uuid
from types import ModuleType

from temporalio.client import Client

from lab_support.exercises import NotAttempted, Verdict, not_attempted, not_yet, passed
from lab_support.server import Lab
from lab_support.workers import KernelWorker, SubprocessWorker

from .activities import LLM_SECONDS
from .measure import run_burst
from .workflows import Burst

CASES = [  # calls, seconds per call, deadline, per-worker concurrency -> fewest workers
    ((24, 0.25, 1.0, 2), 3),
    ((24, 0.25, 0.5, 2), 6),
    ((10, 1.0, 3.0, 4), 1),
    ((100, 2.0, 5.0, 5), 10),
]
HINTS = [
    "In `deadline` seconds a worker runs floor(deadline / seconds_per_call) waves of `per_worker` calls each.",
    "Then workers = ceil(calls / (waves * per_worker)). Round waves down and workers up.",
]


async def grade(client: Client, module: ModuleType) -> Verdict:
    """Formula on known bursts; then measure one burst with the learner's pool."""
    for args, want in CASES:
        try:
            got = module.pool_size(*args)
        except NotAttempted:
            return not_attempted("scaling")
        if got != want:
            calls, seconds, deadline, per_worker = args
            return not_yet(f"pool_size({calls} calls, {seconds} s each, deadline {deadline} s, {per_worker} per worker) "
                           f"= {got}; the fewest that meet the deadline is {want}.", HINTS[0 if got > want else 1])
    workers = module.pool_size(24, LLM_SECONDS, 1.0, 2)
    address = client.service_client.config.target_host
    lab = Lab(client, address, client.namespace, kind="existing")
    queue = f"check-llm-{uuid.uuid4().hex[:6]}"
    pool = [SubprocessWorker(lab, "labs.scaling.worker", task_queue=queue, role="llm", max_concurrent=2).start()
            for _ in range(workers)]
    try:
        async with KernelWorker(client, "labs.scaling.worker", role="agent", max_concurrent=50) as agent:
            rows, wall = await run_burst(client, agent.task_queue, Burst(24, 0, queue, agent.task_queue))
    finally:
        for worker in pool:
            worker.stop()
    run = rows["run_s"].max() + rows["queued_s"].max()
    return passed(f"Right on all {len(CASES)} bursts. With {workers} workers the real 24-call burst took "
                  f"{wall:.2f} s end to end (the last call finished {run:.2f} s after the first was scheduled; "
                  f"the ideal is {math.ceil(24 / (2 * workers)) * LLM_SECONDS:.2f} s).")
