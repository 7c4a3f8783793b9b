"""Event histories as pandas DataFrames: fetch, save, load (SDK or CLI JSON) and tabulate.

One row per event. Activity retries are NOT separate rows: the server writes one ActivityTaskStarted
event when the last attempt starts, carrying the final `attempt` and the previous attempt's failure.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pandas as pd
from google.protobuf.message import Message
from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowHandle, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

from .server import Lab, LabError, unknown_workflow

COLUMNS = [
    "event_id", "time", "t", "type", "category", "name", "lane", "ref",
    "attempt", "failure", "payload_bytes", "event_bytes",
]

_CATEGORY = [  # attribute-name prefix -> category, first match wins
    ("workflow_task_", "workflow task"),
    ("activity_task_", "activity"),
    ("timer_", "timer"),
    ("workflow_execution_signaled", "signal"),
    ("signal_external_", "signal"),
    ("workflow_execution_update_", "update"),
    ("child_workflow_execution_", "child"),
    ("start_child_workflow_execution_", "child"),
    ("marker_recorded", "marker"),
]
_TYPE_NAMES = {v: "".join(w.capitalize() for w in k[len("EVENT_TYPE_"):].split("_")) for k, v in EventType.items()}


async def fetch_history(source: Lab | Client | WorkflowHandle[Any, Any], workflow_id: str | None = None) -> WorkflowHistory:
    """The full history of a workflow, from a handle or from a lab/client plus a workflow id."""
    if isinstance(source, WorkflowHandle):
        handle = source
    else:
        client = source.client if isinstance(source, Lab) else source
        if workflow_id is None:
            raise LabError("fetch_history(lab, workflow_id): give the workflow id too.")
        handle = client.get_workflow_handle(workflow_id)
    try:
        return await handle.fetch_history()
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            raise unknown_workflow(handle.id) from None
        raise


async def wait_event(handle: WorkflowHandle[Any, Any], event_type: str, count: int = 1, timeout: float = 60.0) -> pd.DataFrame:
    """Wait until the history has `count` events of `event_type` (e.g. "TimerFired"); returns the frame."""
    deadline = time.monotonic() + timeout
    while True:
        df = to_frame(await fetch_history(handle))
        if (df["type"] == event_type).sum() >= count:
            return df
        if time.monotonic() > deadline:
            raise TimeoutError(f"{handle.id!r} has fewer than {count} {event_type} events after {timeout:g}s")
        await asyncio.sleep(0.1)


async def fetch_runs(source: Lab | Client, workflow_id: str, first_run_id: str | None = None) -> list[WorkflowHistory]:
    """Every run of a workflow that continued as new, oldest first (follows the continued-as-new chain)."""
    client = source.client if isinstance(source, Lab) else source
    if first_run_id is None:
        runs = [w async for w in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
        if not runs:
            raise unknown_workflow(workflow_id)
        first_run_id = min(runs, key=lambda w: w.start_time).run_id
    histories, run_id = [], first_run_id
    while run_id:
        history = await fetch_history(client.get_workflow_handle(workflow_id, run_id=run_id))
        histories.append(history)
        last = history.events[-1]
        run_id = (last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
                  if last.HasField("workflow_execution_continued_as_new_event_attributes") else None)
    return histories


def save_history(history: WorkflowHistory, path: str | Path) -> Path:
    """Write a history as JSON (the same format as `temporal workflow show -o json`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(history.to_json())
    return path


def load_history(source: str | Path | dict[str, Any], workflow_id: str | None = None) -> WorkflowHistory:
    """A history from a JSON file, JSON text or dict (SDK `to_json()` or CLI `workflow show -o json`)."""
    name = "history"
    if isinstance(source, dict):
        data: Any = source
    else:
        text = str(source)
        if not text.lstrip().startswith("{"):
            path = Path(source)
            name = path.stem
            if not path.exists():
                raise LabError(
                    f"No history file at {path}. Fix: save one with `save_history(history, {str(path)!r})` "
                    "or `temporal workflow show -w <id> -o json > file.json`."
                )
            text = path.read_text()
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise LabError(
                f"{name} is not valid JSON ({e}). Fix: re-export it with `save_history` "
                "or `temporal workflow show -w <id> -o json`."
            ) from None
    if not isinstance(data, dict) or not isinstance(data.get("events"), list) or not data["events"]:
        raise LabError(
            f"{name} is JSON but not a Temporal history (expected an object with a non-empty 'events' list). "
            "Fix: export it with `save_history` or `temporal workflow show -w <id> -o json`."
        )
    try:
        return WorkflowHistory.from_json(workflow_id or name, data)
    except Exception as e:  # noqa: BLE001 - a protobuf parse error becomes one clear message
        raise LabError(f"{name} has malformed history events ({e}). Fix: re-export the history.") from None


def _payload_bytes(msg: Message) -> int:
    if msg.DESCRIPTOR.full_name == "temporal.api.common.v1.Payload":
        return msg.ByteSize()
    total = 0
    for fd, value in msg.ListFields():
        if fd.message_type is None:
            continue
        if fd.message_type.GetOptions().map_entry:
            values = value.values()
            if fd.message_type.fields_by_name["value"].message_type is None:
                continue
        elif fd.is_repeated:
            values = value
        else:
            values = [value]
        for v in values:
            total += _payload_bytes(v)
    return total


def _category(which: str) -> str:
    for prefix, category in _CATEGORY:
        if which.startswith(prefix):
            return category
    return "workflow"


def _ref_field(attrs: Message) -> int | None:
    """The id of the event that opened this event's activity, timer, child or update."""
    for name in ("scheduled_event_id", "initiated_event_id", "accepted_event_id", "started_event_id"):
        if name in attrs.DESCRIPTOR.fields_by_name and getattr(attrs, name):
            return int(getattr(attrs, name))
    return None


def _own_name(which: str, attrs: Any) -> str | None:
    if which == "activity_task_scheduled_event_attributes":
        return f"{attrs.activity_type.name} #{attrs.activity_id}"
    if which == "timer_started_event_attributes":
        return f"timer {attrs.timer_id}"
    if which == "start_child_workflow_execution_initiated_event_attributes":
        return f"child {attrs.workflow_type.name} ({attrs.workflow_id})"
    if which == "workflow_execution_signaled_event_attributes":
        return f"signal {attrs.signal_name}"
    if which == "workflow_execution_update_accepted_event_attributes":
        return f"update {attrs.accepted_request.input.name}"
    if which == "workflow_execution_update_admitted_event_attributes":
        return f"update {attrs.request.input.name}"
    if which == "marker_recorded_event_attributes":
        if "patch-data" in attrs.details and attrs.details["patch-data"].payloads:
            try:
                return f"patch {json.loads(attrs.details['patch-data'].payloads[0].data)['id']}"
            except (ValueError, KeyError):
                pass
        return f"marker {attrs.marker_name}"
    if which == "signal_external_workflow_execution_initiated_event_attributes":
        return f"signal-out {attrs.signal_name}"
    if which == "workflow_execution_started_event_attributes":
        return attrs.workflow_type.name
    return None


def _failure(which: str, attrs: Any) -> str | None:
    for field in ("failure", "last_failure"):
        if field in attrs.DESCRIPTOR.fields_by_name and attrs.HasField(field):
            f = getattr(attrs, field)
            return f.message or f.cause.message or type(f).__name__
    if which.endswith("_timed_out_event_attributes"):
        return "timed out"
    return None


def to_frame(history: WorkflowHistory | list[HistoryEvent]) -> pd.DataFrame:
    """One row per event: id, time, seconds since start, type, category, name, lane, attempt, failure, sizes."""
    events = history.events if isinstance(history, WorkflowHistory) else history
    rows: list[tuple[Any, ...]] = []
    names: dict[int, str] = {}  # event id of a scheduling event -> its name (lane)
    for e in events:
        which = e.WhichOneof("attributes") or ""
        attrs = getattr(e, which) if which else None
        own = _own_name(which, attrs) if attrs is not None else None
        ref = e.event_id
        if attrs is not None and own is None:
            ref = _ref_field(attrs) or e.event_id
        if own is not None:
            names[e.event_id] = own
        category = _category(which)
        lane = "workflow" if category in ("workflow", "workflow task", "signal", "update", "marker") else names.get(ref, category)
        rows.append((
            e.event_id,
            e.event_time.ToDatetime(),
            _TYPE_NAMES.get(e.event_type, str(e.event_type)),
            category,
            own or names.get(ref),
            lane,
            ref,
            int(attrs.attempt) if attrs is not None and "attempt" in attrs.DESCRIPTOR.fields_by_name else None,
            _failure(which, attrs) if attrs is not None else None,
            _payload_bytes(attrs) if attrs is not None else 0,
            e.ByteSize(),
        ))
    df = pd.DataFrame.from_records(rows, columns=[c for c in COLUMNS if c != "t"])
    df["time"] = pd.to_datetime(df["time"], utc=True)
    df.insert(2, "t", (df["time"] - df["time"].iloc[0]).dt.total_seconds() if len(df) else [])
    df["attempt"] = df["attempt"].astype("Int64")
    return df
