"""Worker Versioning helpers for lesson 08: make a build current; read which build a run is on."""

from __future__ import annotations

import asyncio
import time

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest, SetWorkerDeploymentCurrentVersionRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from .worker import DEPLOYMENT


async def set_current(client: Client, namespace: str, build_id: str, task_queue: str, timeout: float = 30.0) -> float:
    """Make `build_id` current; return the seconds until `task_queue` routes its workflow tasks by it.

    Retries while the server has not yet seen that build poll (NOT_FOUND). The call returns before the new
    routing reaches the task queue (it is pushed to each task queue of the deployment afterwards,
    asynchronously: temporalio/temporal service/worker/workerdeployment/); until
    the queue reports the new current version, a workflow task may still go to the old build.
    Raises TimeoutError (or the last RPCError) after `timeout` seconds.
    """
    started = time.monotonic()
    while True:
        try:
            await client.workflow_service.set_worker_deployment_current_version(SetWorkerDeploymentCurrentVersionRequest(
                namespace=namespace, deployment_name=DEPLOYMENT, build_id=build_id))
            break
        except RPCError:
            if time.monotonic() - started > timeout:
                raise
            await asyncio.sleep(0.2)
    while True:
        queue = await client.workflow_service.describe_task_queue(DescribeTaskQueueRequest(
            namespace=namespace, task_queue=TaskQueue(name=task_queue), task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW))
        if queue.versioning_info.current_deployment_version.build_id == build_id:
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"Build {build_id} is current, but task queue {task_queue!r} did not route by it "
                               f"within {timeout:g} s.")
        await asyncio.sleep(0.05)


async def placement(handle: WorkflowHandle) -> dict[str, str]:
    """The versioning behavior of a run and the build it runs on."""
    info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
    behavior = {1: "PINNED", 2: "AUTO_UPGRADE"}.get(info.behavior, "UNSPECIFIED")
    override = info.versioning_override
    if override.auto_upgrade or override.behavior == 2:
        behavior = "AUTO_UPGRADE (override)"
    return {"workflow": handle.id, "behavior": behavior, "build": info.deployment_version.build_id}
