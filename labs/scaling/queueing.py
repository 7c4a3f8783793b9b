"""Who goes first on a shared task queue: priority classes and fairness between tenants, measured.

Jobs are standalone activities (started by the client, no workflow), so each job's queue wait is read
from the server's own record of it: `describe()` gives when it was scheduled and when a worker started it.
A workflow's priority works the same way: its activities and children inherit it (temporalio/common.py,
`Priority`).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pandas as pd
from temporalio import activity
from temporalio.client import Client
from temporalio.common import Priority

JOB_SECONDS = 0.02
# One task queue partition: priority is enforced within a partition, and a dev server's task queue has
# several (docs.temporal.io/develop/task-queue-priority-fairness), which blurs the order a little.
ONE_PARTITION = {"matching.numTaskqueueReadPartitions": 1, "matching.numTaskqueueWritePartitions": 1}
FAIRNESS = {**ONE_PARTITION, "matching.enableFairness": True}


@activity.defn
async def job(label: str) -> str:
    """One queued job (an agent turn, an evaluation run, a tenant's request): a short wait."""
    await asyncio.sleep(JOB_SECONDS)
    return label


@dataclass
class Group:
    label: str
    count: int
    priority: Priority


async def backlog(client: Client, task_queue: str) -> int:
    """Approximate number of activity tasks waiting in `task_queue` (the server's task queue stats)."""
    from temporalio.api.enums.v1 import TaskQueueType
    from temporalio.api.taskqueue.v1 import TaskQueue
    from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest

    response = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
        namespace=client.namespace, task_queue=TaskQueue(name=task_queue),
        task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY, report_stats=True))
    return int(response.stats.approximate_backlog_count)


async def drain(client: Client, groups: list[Group], max_concurrent: int = 1, timeout: float = 30.0) -> pd.DataFrame:
    """Enqueue each group's jobs in order while no worker polls, then let one worker drain the queue.

    The worker starts once the server reports every job in the queue's backlog (a job reaches the
    queue a moment after it is scheduled). Returns one row per job: class, enqueue order, start order,
    queue wait in seconds (the server's `last_started_time - schedule_time` from `describe()`), and the
    part of it after the worker started polling (what the queue order decides).
    """
    from lab_support.workers import KernelWorker

    queue = f"jobs-{uuid.uuid4().hex[:8]}"
    handles = []
    for group in groups:
        for i in range(group.count):
            handles.append((group.label, await client.start_activity(
                job, group.label, id=f"{queue}-{group.label}-{i}", task_queue=queue,
                start_to_close_timeout=timedelta(seconds=30), priority=group.priority)))
    deadline = time.monotonic() + timeout
    while await backlog(client, queue) < len(handles):
        if time.monotonic() > deadline:
            raise TimeoutError(f"Only {await backlog(client, queue)} of {len(handles)} jobs reached {queue!r} in {timeout:g}s.")
        await asyncio.sleep(0.05)
    polling_since = datetime.now(timezone.utc)
    async with KernelWorker(client, "labs.scaling.worker", task_queue=queue, role="jobs", max_concurrent=max_concurrent):
        for _, handle in handles:
            await handle.result()
    rows = []
    for order, (label, handle) in enumerate(handles):
        d = await handle.describe()
        rows.append({"class": label, "enqueued": order + 1, "started_at": d.last_started_time,
                     "queue wait (s)": (d.last_started_time - d.schedule_time).total_seconds(),
                     "wait once a worker polled (s)": (d.last_started_time - max(d.schedule_time, polling_since)).total_seconds()})
    frame = pd.DataFrame(rows)
    frame["start order"] = frame["started_at"].rank(method="first").astype(int)
    return frame.drop(columns="started_at")


def waits(frame: pd.DataFrame, **labels: str) -> pd.DataFrame:
    """Per class: median and max wait once a worker polled (seconds), and mean start position (one row per class)."""
    column = "wait once a worker polled (s)"
    out = frame.groupby("class", sort=False).agg(jobs=("enqueued", "size"),
                                                 **{"median wait (s)": (column, "median"), "max wait (s)": (column, "max"),
                                                    "mean start position": ("start order", "mean")}).reset_index()
    for key, value in labels.items():
        out.insert(0, key, value)
    return out.round(3)


def start_sequence(frame: pd.DataFrame) -> str:
    """The classes' first letters in the order the worker started the jobs, e.g. 'iiiibbbb'."""
    return "".join(frame.sort_values("start order")["class"].str[0])
