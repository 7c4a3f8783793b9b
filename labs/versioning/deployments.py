"""Worker Versioning helpers for lesson 08: make a build current; read which build a run is on."""

from __future__ import annotations

import asyncio
import time

from temporalio.api.enums.v1 import RoutingConfigUpdateState
from temporalio.api.workflowservice.v1 import (
    DescribeWorkerDeploymentRequest,
    SetWorkerDeploymentCurrentVersionRequest,
)
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from .worker import DEPLOYMENT


async def set_current(client: Client, namespace: str, build_id: str, timeout: float = 30.0) -> float:
    """Make `build_id` current; return the seconds it took until every task queue partition routes by it.

    Retries while the server has not yet seen that build poll (NOT_FOUND). The call returns before the new
    routing reaches the task queues; until the deployment's `routing_config_update_state` is COMPLETED, a
    workflow task may still go to the old build. Raises TimeoutError (or the last RPCError) after `timeout` s.
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
        info = (await client.workflow_service.describe_worker_deployment(DescribeWorkerDeploymentRequest(
            namespace=namespace, deployment_name=DEPLOYMENT))).worker_deployment_info
        if (info.routing_config.current_deployment_version.build_id == build_id and info.routing_config_update_state
                == RoutingConfigUpdateState.ROUTING_CONFIG_UPDATE_STATE_COMPLETED):
            return time.monotonic() - started
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"Build {build_id} is current but its routing did not reach every task queue in {timeout:g} s.")
        await asyncio.sleep(0.05)


async def placement(handle: WorkflowHandle) -> dict[str, str]:
    """The versioning behavior of a run and the build it runs on."""
    info = (await handle.describe()).raw_description.workflow_execution_info.versioning_info
    behavior = {1: "PINNED", 2: "AUTO_UPGRADE"}.get(info.behavior, "UNSPECIFIED")
    override = info.versioning_override
    if override.auto_upgrade or override.behavior == 2:
        behavior = "AUTO_UPGRADE (override)"
    return {"workflow": handle.id, "behavior": behavior, "build": info.deployment_version.build_id}
