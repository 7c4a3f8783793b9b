"""Worker Versioning helpers for lesson 08: make a build current; read which build a run is on."""

from __future__ import annotations

import asyncio
import time

from temporalio.api.workflowservice.v1 import SetWorkerDeploymentCurrentVersionRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from .worker import DEPLOYMENT


async def set_current(client: Client, namespace: str, build_id: str, timeout: float = 30.0) -> float:
    """Route new workflows to `build_id`. Retries while the server has not yet seen that build poll."""
    started = time.monotonic()
    while True:
        try:
            await client.workflow_service.set_worker_deployment_current_version(SetWorkerDeploymentCurrentVersionRequest(
                namespace=namespace, deployment_name=DEPLOYMENT, build_id=build_id))
            return time.monotonic() - started
        except RPCError:
            if time.monotonic() - started > timeout:
                raise
            await asyncio.sleep(0.2)


async def placement(handle: WorkflowHandle) -> dict[str, str]:
    """The versioning behavior of a run and the build it runs on."""
    info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
    behavior = {1: "PINNED", 2: "AUTO_UPGRADE"}.get(info.behavior, "UNSPECIFIED")
    override = info.versioning_override
    if override.auto_upgrade or override.behavior == 2:
        behavior = "AUTO_UPGRADE (override)"
    return {"workflow": handle.id, "behavior": behavior, "build": info.deployment_version.build_id}
