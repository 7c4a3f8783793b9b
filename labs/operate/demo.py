"""Helpers for notebook 13: register the lesson's search attributes, start an agent run, pause and describe raw."""

from __future__ import annotations

import uuid
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from .workflows import SEARCH_ATTRIBUTES, STATUS, STEP, OperateAgent, Task  # noqa: F401 - STEP, STATUS for notebooks

_registered: set[int] = set()


async def register_search_attributes(client: Client) -> None:
    """Register AgentStep (Int) and AgentStatus (Keyword) in the client's namespace (idempotent)."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest

    if id(client) in _registered:
        return
    known = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=client.namespace))
    missing = {k: v for k, v in SEARCH_ATTRIBUTES.items() if k not in known.custom_attributes}
    if missing:
        kinds = {k: IndexedValueType.Value(f"INDEXED_VALUE_TYPE_{v.upper()}") for k, v in missing.items()}
        try:
            await client.operator_service.add_search_attributes(
                AddSearchAttributesRequest(namespace=client.namespace, search_attributes=kinds))
        except RPCError as e:
            if "already" not in str(e).lower():
                raise
    _registered.add(id(client))


async def start_agent(client: Client, task_queue: str, task: Task | None = None, prefix: str = "bill") -> WorkflowHandle[Any, Any]:
    """Register the search attributes if needed, then start one OperateAgent run with a fresh id."""
    await register_search_attributes(client)
    return await client.start_workflow(OperateAgent.run, task or Task(), id=f"{prefix}-{uuid.uuid4().hex[:6]}",
                                       task_queue=task_queue)


# ---- operating a live run with raw RPCs (the Python client has no handle methods for these in 1.35) ----


def _execution(handle: WorkflowHandle[Any, Any]) -> Any:
    from temporalio.api.common.v1 import WorkflowExecution

    return WorkflowExecution(workflow_id=handle.id, run_id=handle.run_id or "")


async def describe_raw(handle: WorkflowHandle[Any, Any]) -> dict[str, Any]:
    """Status (by its API name, including PAUSED, which `handle.describe()` in temporalio 1.35 cannot parse)
    and pending activities (id, type, state, attempt, paused), from the raw DescribeWorkflowExecution response."""
    from temporalio.api.enums.v1 import PendingActivityState, WorkflowExecutionStatus
    from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest

    client = handle._client
    raw = await client.workflow_service.describe_workflow_execution(
        DescribeWorkflowExecutionRequest(namespace=client.namespace, execution=_execution(handle)))
    status = WorkflowExecutionStatus.Name(raw.workflow_execution_info.status).removeprefix("WORKFLOW_EXECUTION_STATUS_")
    pending = [{"activity_id": p.activity_id, "type": p.activity_type.name, "attempt": p.attempt, "paused": p.paused,
                "state": PendingActivityState.Name(p.state).removeprefix("PENDING_ACTIVITY_STATE_"),
                "last_failure": p.last_failure.message or None} for p in raw.pending_activities]
    return {"status": status, "status_code": int(raw.workflow_execution_info.status), "pending_activities": pending}


async def pause_activity(handle: WorkflowHandle[Any, Any], activity_id: str, reason: str = "stop the bleeding") -> None:
    """PauseActivity: no new attempts until unpaused; a heartbeating attempt is interrupted at its next heartbeat.

    An attempt that does not heartbeat runs to its end (docs.temporal.io/activity-operations/pause).
    """
    from temporalio.api.workflowservice.v1 import PauseActivityRequest

    client = handle._client
    await client.workflow_service.pause_activity(PauseActivityRequest(
        namespace=client.namespace, execution=_execution(handle), id=activity_id, reason=reason, identity="notebook 13"))


async def unpause_activity(handle: WorkflowHandle[Any, Any], activity_id: str, reset_attempts: bool = True) -> None:
    """UnpauseActivity: attempts resume (with the attempt counter reset to 1 if asked)."""
    from temporalio.api.workflowservice.v1 import UnpauseActivityRequest

    client = handle._client
    await client.workflow_service.unpause_activity(UnpauseActivityRequest(
        namespace=client.namespace, execution=_execution(handle), id=activity_id, reset_attempts=reset_attempts,
        identity="notebook 13"))


async def update_activity_options(handle: WorkflowHandle[Any, Any], activity_id: str, *, initial_interval: float,
                                  maximum_interval: float, start_to_close: float) -> Any:
    """UpdateActivityOptions: a new retry policy and start-to-close timeout (seconds) for one pending activity."""
    from google.protobuf.duration_pb2 import Duration
    from google.protobuf.field_mask_pb2 import FieldMask
    from temporalio.api.activity.v1 import ActivityOptions
    from temporalio.api.common.v1 import RetryPolicy
    from temporalio.api.workflowservice.v1 import UpdateActivityOptionsRequest

    def seconds(s: float) -> Duration:
        d = Duration()
        d.FromMilliseconds(int(s * 1000))
        return d

    client = handle._client
    options = ActivityOptions(start_to_close_timeout=seconds(start_to_close), retry_policy=RetryPolicy(
        initial_interval=seconds(initial_interval), maximum_interval=seconds(maximum_interval), backoff_coefficient=2.0))
    response = await client.workflow_service.update_activity_options(UpdateActivityOptionsRequest(
        namespace=client.namespace, execution=_execution(handle), id=activity_id, activity_options=options,
        update_mask=FieldMask(paths=["start_to_close_timeout", "retry_policy.initial_interval",
                                     "retry_policy.maximum_interval", "retry_policy.backoff_coefficient"]),
        identity="notebook 13"))
    return response.activity_options


async def pause_workflow(handle: WorkflowHandle[Any, Any], reason: str = "someone is looking") -> None:
    """PauseWorkflowExecution (needs the server's frontend.WorkflowPauseEnabled dynamic config)."""
    from temporalio.api.workflowservice.v1 import PauseWorkflowExecutionRequest

    client = handle._client
    await client.workflow_service.pause_workflow_execution(PauseWorkflowExecutionRequest(
        namespace=client.namespace, workflow_id=handle.id, run_id=handle.run_id or "", reason=reason,
        identity="notebook 13", request_id=str(uuid.uuid4())))


async def unpause_workflow(handle: WorkflowHandle[Any, Any]) -> None:
    """UnpauseWorkflowExecution: the workflow's tasks are dispatched again."""
    from temporalio.api.workflowservice.v1 import UnpauseWorkflowExecutionRequest

    client = handle._client
    await client.workflow_service.unpause_workflow_execution(UnpauseWorkflowExecutionRequest(
        namespace=client.namespace, workflow_id=handle.id, run_id=handle.run_id or "", reason="done looking",
        identity="notebook 13", request_id=str(uuid.uuid4())))


async def find_runs(client: Client, query: str, expect: int, timeout: float = 10.0) -> list[Any]:
    """`list_workflows(query)`, polled until it returns `expect` runs (visibility lags the workflow a little)."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while True:
        runs = [w async for w in client.list_workflows(query)]
        if len(runs) == expect or time.monotonic() > deadline:
            return runs
        await asyncio.sleep(0.1)


def end_storm(model: Any) -> None:
    """The provider recovers: drop the local model's queued faults, keep its request log."""
    model.fake.state.scenarios.clear()


async def wait_paused(handle: WorkflowHandle[Any, Any], activity_id: str, timeout: float = 10.0) -> dict[str, Any]:
    """Wait until the server reports `activity_id` as paused and no attempt of it is running; returns it."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in (await describe_raw(handle))["pending_activities"]:
            if p["activity_id"] == activity_id and p["state"] == "PAUSED":  # paused, no attempt running
                return p
        await asyncio.sleep(0.05)
    raise TimeoutError(f"{activity_id} of {handle.id!r} was not paused within {timeout:g}s")


async def wait_idle(handle: WorkflowHandle[Any, Any], timeout: float = 10.0) -> dict[str, Any]:
    """Wait until no activity of the workflow is running on a worker (e.g. the one in flight at a pause); returns describe_raw."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        raw = await describe_raw(handle)
        if not any(p["state"] == "STARTED" for p in raw["pending_activities"]):
            return raw
        await asyncio.sleep(0.05)
    raise TimeoutError(f"an activity of {handle.id!r} was still running after {timeout:g}s")
