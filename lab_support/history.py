"""Event histories as pandas DataFrames: fetch, save, load (any JSON a Temporal user meets) and tabulate.

One row per event. Activity retries are NOT separate rows: the server writes a retried activity's
`ActivityTaskStarted` event ONCE, when the activity closes (completes, fails for good, times out),
stamped with the last attempt's start time and carrying the final `attempt` and the `last_failure`;
earlier attempts leave no event. While an activity still retries the history ends at
`ActivityTaskScheduled`: `fetch_history(handle, pending=True)` adds what `describe()` knows (attempt,
last failure, next attempt time) as rows of type `PendingActivity`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from temporalio.api.enums.v1 import EventType, PendingActivityState
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import Client, WorkflowExecutionStatus, WorkflowHandle, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode

from .server import Lab, LabError, unknown_workflow

COLUMNS = [
    "event_id", "time", "t", "type", "category", "name", "lane", "ref",
    "attempt", "failure", "payload_bytes", "event_bytes",
]
PENDING_COLUMNS = ["state", "last_started", "next_attempt"]  # added only to frames with PendingActivity rows

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
_LEGACY = [("DecisionTask", "WorkflowTask")]  # Cadence / Temporal < 1.0 names -> today's
_EXPORT_FIX = "Fix: export it with `save_history` or `temporal workflow show -w <id> -o json`."


class LabHistory(WorkflowHistory):
    """A WorkflowHistory read from JSON: `to_frame` reads the JSON directly; `.events` (SDK objects, for replay)
    are parsed on first use. `pending`/`now` hold describe()'s pending activities of a running workflow."""

    def __init__(self, workflow_id: str, events: Sequence[HistoryEvent] | None = None, *,
                 raw: list[dict[str, Any]] | None = None, pending: Sequence[Any] = (), now: datetime | None = None,
                 source: str = "history") -> None:
        object.__setattr__(self, "workflow_id", workflow_id)
        object.__setattr__(self, "_events", list(events) if events is not None else None)
        object.__setattr__(self, "raw", raw)  # normalised JSON events (today's names), or None
        object.__setattr__(self, "pending", list(pending))
        object.__setattr__(self, "now", now)
        object.__setattr__(self, "source", source)

    @property
    def events(self) -> Sequence[HistoryEvent]:  # type: ignore[override]
        if self._events is None:
            object.__setattr__(self, "_events", _parse_events(self.raw or [], self.source))
        return self._events

    def __len__(self) -> int:
        return len(self.raw) if self._events is None and self.raw is not None else len(self.events)

    def __repr__(self) -> str:
        extra = f", {len(self.pending)} pending activities" if self.pending else ""
        return f"LabHistory({self.workflow_id!r}, {len(self)} events{extra})"


async def fetch_history(source: Lab | Client | WorkflowHandle[Any, Any], workflow_id: str | None = None,
                        pending: bool = False) -> WorkflowHistory:
    """The full history of a workflow, from a handle or a lab/client plus a workflow id; `pending=True` adds, for a
    RUNNING workflow, its pending activities from `describe()` (to_frame shows them as `PendingActivity` rows), read
    when the history had not moved on since it was fetched (describe's history length equals its event count)."""
    if isinstance(source, WorkflowHandle):
        handle = source
    else:
        client = source.client if isinstance(source, Lab) else source
        if workflow_id is None:
            raise LabError("fetch_history(lab, workflow_id): give the workflow id too.")
        handle = client.get_workflow_handle(workflow_id)
    try:
        for _ in range(5):
            history = await handle.fetch_history()
            if not pending:
                return history
            description = await handle.describe()
            # Two calls, not one snapshot: a workflow that moved on in between (a loaded run: attempt 1 failed and
            # attempt 2 was pending while the history still ended before the activity was scheduled) is read again.
            if description.raw_description.workflow_execution_info.history_length == len(history.events):
                break
    except RPCError as e:
        if e.status == RPCStatusCode.NOT_FOUND:
            raise unknown_workflow(handle.id) from None
        if e.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            from .server import ensure_reachable

            await ensure_reachable(handle._client, grace=5.0)  # raises a LabError naming the fix if the server is gone
        raise
    running = description.status == WorkflowExecutionStatus.RUNNING
    return LabHistory(history.workflow_id, history.events, source=handle.id,
                      pending=description.raw_description.pending_activities if running else (),
                      now=datetime.now(timezone.utc) if running else None)


async def wait_event(handle: WorkflowHandle[Any, Any], event_type: str, count: int = 1, timeout: float = 60.0,
                     **where: Any) -> pd.DataFrame:
    """Wait until the history has `count` events of `event_type` (e.g. "TimerFired") whose columns equal `where`
    (e.g. attempt=2); "PendingActivity" waits on describe()'s pending activities. Returns the frame."""
    deadline = time.monotonic() + timeout
    while True:
        df = to_frame(await fetch_history(handle, pending=event_type == "PendingActivity"))
        rows = df[df["type"] == event_type]
        for column, value in where.items():
            rows = rows[rows[column] == value] if column in rows else rows.iloc[:0]
        if len(rows) >= count:
            return df
        if time.monotonic() > deadline:
            from .workers import diagnose

            which = "".join(f", {k}={v!r}" for k, v in where.items())
            raise TimeoutError(f"{handle.id!r} has fewer than {count} {event_type} events{which} after {timeout:g}s; "
                               f"{await diagnose(handle)}")
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
    """Write a history as JSON (the same format as `temporal workflow show -o json`); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(history, LabHistory) and history.raw is not None:  # as loaded (names mapped), without re-encoding
        events = [{k: v for k, v in e.items() if k != "_original_type"} for e in history.raw]
        path.write_text(json.dumps({"events": events}, indent=2))
    else:
        path.write_text(history.to_json())
    return path


# ---------------------------------------------------------------------------------------------------------------
# Loading: every container and dialect -> a list of event dicts in today's proto JSON names

def load_history(source: str | Path | dict[str, Any] | list[Any], workflow_id: str | None = None) -> LabHistory:
    """A history from a JSON file, JSON text, dict or list: SDK `to_json`/CLI `workflow show -o json`, a bare event
    array, a list of histories (picked by `workflow_id`), the GetWorkflowExecutionHistory response, the Web UI's
    JSON download (oldest first today; Web UIs before 2022 exported newest first, temporalio/ui#645, #735), legacy
    `DecisionTask*` names and nanosecond `timestamp`s. Raises LabError naming the fix."""
    name = "history"
    if isinstance(source, (dict, list)):
        data: Any = source
    else:
        text = str(source)
        if not text.strip():
            raise LabError("load_history got an empty string. Fix: pass a history file's path, JSON text or a dict, "
                           "e.g. `load_history('histories/run.json')`.")
        if not text.lstrip().startswith(("{", "[")):
            path = Path(source)
            name = path.stem
            if path.is_dir():
                found = sorted(p.name for p in path.glob("*.json"))[:8]
                raise LabError(f"{path} is a folder, not a history file"
                               + (f" (it holds {', '.join(found)})" if found else "")
                               + ". Fix: pass one file, e.g. `load_history(folder / 'run.json')`.")
            if not path.exists():
                raise LabError(
                    f"No history file at {path}. Fix: save one with `save_history(history, {str(path)!r})` "
                    "or `temporal workflow show -w <id> -o json > file.json`."
                )
            text = path.read_text()
        try:
            data = json.loads(text)
        except json.JSONDecodeError as e:
            raise LabError(f"{name} is not valid JSON ({e}). Fix: re-export it with `save_history` "
                           "or `temporal workflow show -w <id> -o json`.") from None
    events = _container(data, workflow_id, name)
    return LabHistory(workflow_id or name, raw=_normalise(events, name), source=name)


def _malformed(name: str, e: dict[str, Any], what: str) -> LabError:
    """The error for one unreadable event, naming it."""
    typ = _pascal(e.get("eventType")) if isinstance(e.get("eventType"), (str, int)) else None
    return LabError(f"{name} has a malformed event: eventId {e.get('eventId')!r}" + (f" ({typ})" if typ else "")
                    + f": {what}. Fix: correct that event, or re-export the history "
                    "(`save_history`, or `temporal workflow show -w <id> -o json`).")


def _recorded_id(history: dict[str, Any]) -> str | None:
    for key in ("workflowId", "workflow_id"):
        if isinstance(history.get(key), str):
            return history[key]
    events = _events_of(history) or [{}]
    first = events[0] if isinstance(events[0], dict) else {}
    started = first.get("workflowExecutionStartedEventAttributes") or {}
    return started.get("workflowId") or None


def _events_of(data: Any) -> list[Any] | None:
    if isinstance(data, dict):
        if isinstance(data.get("events"), list):
            return data["events"]
        if isinstance(data.get("history"), dict) and isinstance(data["history"].get("events"), list):
            return data["history"]["events"]
    return None


def _container(data: Any, workflow_id: str | None, name: str) -> list[Any]:
    """The event list inside any container a Temporal user meets (a list of histories: the one with `workflow_id`)."""
    if isinstance(data, dict):
        events = _events_of(data)
        if events is None:
            if "eventType" in data and "eventId" in data:
                raise LabError(f"{name} is ONE event (eventId {data['eventId']}, {_pascal(data['eventType'])}), not a "
                               f"history. {_EXPORT_FIX}")
            if data.get("rawHistory"):
                raise LabError(f"{name} holds only `rawHistory` blobs (binary protobuf), no JSON events. {_EXPORT_FIX}")
            raise LabError(f"{name} is JSON but not a Temporal history (expected an object with an 'events' list, "
                           f"or {{'history': {{'events': [...]}}}}; found keys {sorted(data)[:6]}). {_EXPORT_FIX}")
        if data.get("nextPageToken"):
            raise LabError(f"{name} is one page of a longer history ({len(events)} events; `nextPageToken` says more "
                           f"follow). Fix: export all pages with `temporal workflow show -w <id> -o json`.")
        if not events:
            raise LabError(f"{name} has an empty 'events' list. {_EXPORT_FIX}")
        return events
    if not isinstance(data, list) or not data:
        raise LabError(f"{name} is JSON but not a Temporal history (expected an object with an 'events' list, "
                       f"got {type(data).__name__ if data != [] else 'an empty list'}). {_EXPORT_FIX}")
    if all(isinstance(x, dict) and _events_of(x) is not None for x in data):  # a list of histories
        ids = [_recorded_id(h) for h in data]
        if len(data) == 1:
            return _container(data[0], workflow_id, name)
        if workflow_id in ids:
            return _container(data[ids.index(workflow_id)], workflow_id, name)

        def describe(i: int, h: dict[str, Any]) -> str:
            evs = _events_of(h) or [{}]
            kind = ((evs[0].get("workflowExecutionStartedEventAttributes") or {}).get("workflowType") or {}).get("name")
            return f"[{i}] id {ids[i] or '(not recorded)'}, type {kind or '?'}, {len(evs)} events"

        listing = "; ".join(describe(i, h) for i, h in enumerate(data[:10]))
        asked = f"none has workflow id {workflow_id!r}" if workflow_id else "which one?"
        raise LabError(f"{name} holds {len(data)} histories, {asked}: {listing}. Fix: "
                       + ("`load_history(path, workflow_id=...)` with one of those ids" if any(ids) else
                          "pass one of them, e.g. `load_history(json.load(open(path))[0])`") + ".")
    if all(isinstance(x, dict) and ("eventType" in x or "eventId" in x) for x in data):  # a bare array of events
        return data
    raise LabError(f"{name} is a JSON list, but neither of events nor of histories. {_EXPORT_FIX}")


_UI_KEYS = {"attributes", "classification", "category", "id", "name", "billableActions"}  # the Web UI's decorations
_LEGACY_KEYS = {"taskList": "taskQueue", "retryStatus": "retryState"}
_LEGACY_VALUES = {"TASK_LIST_KIND_": "TASK_QUEUE_KIND_", "RETRY_STATUS_": "RETRY_STATE_",
                  "CONTINUE_AS_NEW_INITIATOR_DECIDER": "CONTINUE_AS_NEW_INITIATOR_WORKFLOW"}


def _modern_key(key: str) -> str:
    for old, new in _LEGACY:
        key = key.replace(old, new).replace(old[0].lower() + old[1:], new[0].lower() + new[1:])
    return _LEGACY_KEYS.get(key, key)


def _modernise(value: Any) -> Any:
    """Legacy (2020-era) field names and values -> today's: decisionTask*, taskList, *TimeoutSeconds, RETRY_STATUS_*."""
    if isinstance(value, dict):
        out = {}
        for k, v in value.items():
            if isinstance(v, int) and not isinstance(v, bool) and k.endswith(("TimeoutSeconds", "InSeconds")):
                out[_modern_key(k[: -len("InSeconds") if k.endswith("InSeconds") else -len("Seconds")])] = f"{v}s"
            else:
                out[_modern_key(k)] = _modernise(v)
        return out
    if isinstance(value, list):
        return [_modernise(v) for v in value]
    if isinstance(value, str):
        for old, new in _LEGACY_VALUES.items():
            if value.startswith(old):
                return new + value[len(old):]
    return value


def _pascal(event_type: Any) -> str | None:
    if isinstance(event_type, int) and not isinstance(event_type, bool):
        return _TYPE_NAMES.get(event_type, str(event_type))
    if not isinstance(event_type, str) or not event_type:
        return None
    if event_type.isupper() or "_" in event_type:
        return "".join(w.capitalize() for w in event_type.upper().removeprefix("EVENT_TYPE_").split("_"))
    return event_type


_TYPES: dict[Any, tuple[str, str, Any]] = {}


def _type_names(e: dict[str, Any]) -> tuple[Any, Any, Any]:
    """(type as written, in PascalCase; today's name; today's enum name) of an event, memoised per spelling."""
    given = e.get("eventType")
    names = _TYPES.get(given) if isinstance(given, (str, int)) else None
    if names is None:
        typ = _pascal(given)
        if typ is None:  # no type: take it from the attributes key
            key = next((k for k in e if k.endswith("EventAttributes")), None)
            typ = key[0].upper() + key[1:-len("EventAttributes")] if key else None
            if typ is None:
                return None, None, None
        modern = typ
        for old, new in _LEGACY:
            modern = modern.replace(old, new)
        names = (typ, modern, int(modern) if modern.isdigit() else "EVENT_TYPE" + re.sub("([A-Z]+)", r"_\1", modern).upper())
        if isinstance(given, (str, int)):
            _TYPES[given] = names
    return names


def _normalise(events: list[Any], name: str) -> list[dict[str, Any]]:
    """Events in today's proto JSON: ascending ids, `eventTime` RFC3339, `EVENT_TYPE_*`; `_original_type` kept if renamed."""
    out: list[dict[str, Any]] = []
    legacy = any(isinstance(e, dict) and (_type_names(e)[0] != _type_names(e)[1] or "eventTime" not in e and "timestamp" in e)
                 for e in events)  # a pre-1.0 history: its other events carry old field names too
    for i, e in enumerate(events):
        if not isinstance(e, dict):
            raise _malformed(name, {"eventId": f"#{i + 1} in the file"}, f"a {type(e).__name__}, not an object")
        typ, modern, enum_name = _type_names(e)
        if typ is None:
            raise _malformed(name, e, "no eventType and no *EventAttributes")
        if (legacy or e.get("eventType") != enum_name or not isinstance(e.get("eventTime"), str)
                or not _UI_KEYS.isdisjoint(e)):  # copy: never change the caller's dict
            e = {k: v for k, v in e.items() if k not in _UI_KEYS}
            if legacy:
                e = _modernise(e)
            if modern != typ:
                e["_original_type"] = typ
            if not isinstance(e.get("eventTime"), str):
                e["eventTime"] = _time_of(e, name)
            e.pop("timestamp", None)
            e["eventType"] = enum_name
        out.append(e)
    return _order(out, name)


def _time_of(e: dict[str, Any], name: str) -> str:
    """RFC3339 text of an event's time, from `eventTime` as {seconds, nanos} or a nanosecond `timestamp`."""
    value = e.get("eventTime", e.get("timestamp"))
    try:
        if isinstance(value, dict):
            ns = int(value.get("seconds", 0)) * 1_000_000_000 + int(value.get("nanos", 0))
        elif isinstance(value, (int, str)) and not isinstance(value, bool) and str(value).lstrip("-").isdigit():
            ns = int(value)
            ns = ns * 1_000_000_000 if abs(ns) < 10**11 else ns  # that small, it counts seconds (before 1973 as ns)
        elif isinstance(value, str):
            return value
        else:
            raise ValueError(value)
        return pd.Timestamp(ns, unit="ns", tz="UTC").strftime("%Y-%m-%dT%H:%M:%S.") + f"{ns % 1_000_000_000:09d}Z"
    except (TypeError, ValueError, OverflowError):
        raise _malformed(name, e, f"no readable time ({value!r}; expected `eventTime` RFC3339 text or a "
                                  "nanosecond `timestamp`)") from None


def _order(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """Sort by event id (Web UI downloads before 2022 were newest first, temporalio/ui#645); refuse bad,
    duplicate or missing ids."""
    ids = []
    for i, e in enumerate(events):
        try:
            ids.append(int(e["eventId"]))
        except (KeyError, TypeError, ValueError):
            raise _malformed(name, e, f"eventId {e.get('eventId')!r} is not a number (#{i + 1} in the file)") from None
    if any(b <= a for a, b in zip(ids, ids[1:])):
        order = sorted(range(len(ids)), key=ids.__getitem__)
        events, ids = [events[i] for i in order], [ids[i] for i in order]
    for a, b in zip(ids, ids[1:]):
        if b == a:
            raise LabError(f"{name} has two events with eventId {a}. {_EXPORT_FIX}")
        if b != a + 1:
            raise LabError(f"{name} is missing events {a + 1}..{b - 1} (ids jump from {a} to {b}); a table of it "
                           f"would hide them. {_EXPORT_FIX}")
    return events


def _parse_events(raw: list[dict[str, Any]], name: str) -> list[HistoryEvent]:
    """SDK event objects for replay; a LabError naming the first event the SDK cannot read faithfully."""
    clean = [{k: v for k, v in e.items() if k != "_original_type"} for e in raw]
    fix = "Fix: export the raw history with `temporal workflow show -w <id> -o json` (to_frame reads this one as it is)."
    for e in clean:  # the SDK's parser would silently turn these into empty payloads
        if _decoded_payloads(e):
            raise LabError(f"{name}: event {e.get('eventId')} ({_pascal(e.get('eventType'))}) carries payloads decoded "
                           f"for display (the Web UI's view), so it cannot be replayed. {fix}")
    try:
        events = list(WorkflowHistory.from_json(name, {"events": clean}).events)
    except Exception:  # noqa: BLE001 - find the event and say which
        for e in clean:
            try:
                WorkflowHistory.from_json(name, {"events": [e]})
            except Exception as err:  # noqa: BLE001
                raise LabError(f"{name}: the SDK cannot read event {e.get('eventId')} ({_pascal(e.get('eventType'))}) "
                               f"for replay: {str(err)[:200]}. {fix}") from None
        raise
    for e, parsed in zip(clean, events):  # the SDK's parser reads a type it does not know as 0 (Unspecified)
        if parsed.event_type == 0 and e.get("eventType") not in (0, "EVENT_TYPE_UNSPECIFIED"):
            raise LabError(f"{name}: event {e.get('eventId')} has type {_pascal(e.get('eventType'))}, which this SDK "
                           "does not know (a newer server?), so it cannot be replayed here. Fix: upgrade temporalio, "
                           "or replay a history without it (to_frame shows it by name).")
    return events


def _decoded_payloads(value: Any) -> bool:
    if isinstance(value, dict):
        if isinstance(value.get("payloads"), list):
            return any(not (isinstance(p, dict) and set(p) <= _PAYLOAD_KEYS) for p in value["payloads"])
        return any(_decoded_payloads(v) for v in value.values())
    return isinstance(value, list) and any(_decoded_payloads(v) for v in value)


# ---------------------------------------------------------------------------------------------------------------
# Sizes of JSON events as protobuf bytes (what the server stores), without building SDK objects

_PAYLOAD = "temporal.api.common.v1.Payload"
_PAYLOAD_KEYS = {"metadata", "data", "externalPayloads", "external_payloads"}
_T = FieldDescriptor
_VARINT = {_T.TYPE_INT32, _T.TYPE_INT64, _T.TYPE_UINT32, _T.TYPE_UINT64, _T.TYPE_BOOL, _T.TYPE_ENUM}
_FIXED = {_T.TYPE_FIXED32: 4, _T.TYPE_SFIXED32: 4, _T.TYPE_FLOAT: 4, _T.TYPE_FIXED64: 8, _T.TYPE_SFIXED64: 8,
          _T.TYPE_DOUBLE: 8}
_SPECIAL = {"google.protobuf.Duration": 1, "google.protobuf.Timestamp": 2, _PAYLOAD: 3}
_TABLES: dict[Any, dict[str, tuple[Any, ...]]] = {}
_ENUMS: dict[str, dict[str, int]] = {}
_CLOCKS: dict[str, tuple[int, int]] = {}


def _vlen(n: int) -> int:
    return 10 if n < 0 else 1 if n < 0x80 else 2 if n < 0x4000 else 3 if n < 0x200000 else (n.bit_length() + 6) // 7


def _enum_map(enum: Any) -> dict[str, int]:
    """Enum names -> numbers, in every spelling the dialects use (TASK_QUEUE_KIND_NORMAL, Normal)."""
    table = _ENUMS.get(enum.full_name)
    if table is None:
        prefix = re.sub("([A-Z]+)", r"_\1", enum.name).upper().lstrip("_") + "_"
        table = _ENUMS[enum.full_name] = {}
        for v in enum.values:
            table[v.name] = v.number
            table["".join(w.capitalize() for w in v.name.removeprefix(prefix).split("_"))] = v.number
    return table


def _table(desc: Descriptor) -> dict[str, tuple[Any, ...]]:
    """JSON (and proto) field name -> (tag bytes, type, message or enum map, special message, repeated, packed,
    map entry (key, value), presence)."""
    table = _TABLES.get(desc)
    if table is None:
        table = _TABLES[desc] = {}
        for f in desc.fields:
            msg = f.message_type
            entry = (_vlen(f.number << 3), f.type, msg or (f.enum_type and _enum_map(f.enum_type)),
                     _SPECIAL.get(msg.full_name, 0) if msg else 0, f.is_repeated,
                     f.is_repeated and f.type in _VARINT | set(_FIXED),
                     (_table(msg)["key"], _table(msg)["value"]) if msg and msg.GetOptions().map_entry else None,
                     f.has_presence)
            table[f.json_name] = table[f.name] = entry
    return table


def _scalar(ftype: int, value: Any, sub: Any) -> int:
    """Bytes of one scalar value without its tag; 0 for proto3's default (not written)."""
    if ftype == _T.TYPE_STRING:
        n = len(value) if value.isascii() else len(value.encode())
        return n + _vlen(n) if n else 0
    if ftype == _T.TYPE_BYTES:
        n = len(value) * 3 // 4 - value[-2:].count("=")
        return n + _vlen(n) if n else 0
    if ftype == _T.TYPE_ENUM:
        n = value if isinstance(value, int) else sub.get(value, 0)
        return _vlen(n) if n else 0
    if ftype in _FIXED:
        return _FIXED[ftype] if float(value) else 0
    if ftype == _T.TYPE_BOOL:
        return 1 if value is True or value == "true" else 0
    n = int(value)
    if ftype in (_T.TYPE_SINT32, _T.TYPE_SINT64):
        n = (n << 1) ^ (n >> 63)
    return _vlen(n) if n else 0


def _clock(value: str, special: int) -> int:
    """Bytes of a Duration ("1.5s") or Timestamp (RFC3339) message body, memoised per text."""
    key = value if special == 1 else "@" + value
    sn = _CLOCKS.get(key)
    if sn is None:
        if special == 1:
            text = value.rstrip("s")
            sign = -1 if text.startswith("-") else 1
            whole, _, frac = text.lstrip("-").partition(".")
            s, n = sign * int(whole or 0), sign * int((frac + "000000000")[:9])
        else:
            ns = pd.Timestamp(value).as_unit("ns").value
            s, n = ns // 1_000_000_000, ns % 1_000_000_000
        sn = _CLOCKS[key] = (s, n)
    s, n = sn
    return ((1 + _vlen(s)) if s else 0) + ((1 + _vlen(n)) if n else 0)


def _message(value: Any, desc: Descriptor, special: int) -> tuple[int, int]:
    """(bytes, payload bytes) of a JSON message value; Web UI-decoded payloads count as their JSON text."""
    if special == 3:
        if isinstance(value, dict) and _PAYLOAD_KEYS.issuperset(value):
            size = _fields(value, desc)[0]
        else:  # decoded by the Web UI: the json/plain payload it came from
            data = len(json.dumps(value, separators=(",", ":")).encode())
            size = 24 + 1 + _vlen(data) + data
        return size, size
    if special and isinstance(value, str):
        return _clock(value, special), 0
    return _fields(value, desc) if isinstance(value, dict) else (0, 0)


def _fields(d: dict[str, Any], desc: Descriptor, skip: str = "", payload_of: str | None = None) -> tuple[int, int]:
    """(bytes, payload bytes) of a JSON object as the protobuf message `desc` (fields it does not know are skipped,
    as the SDK's parser does); with `payload_of`, payloads count only inside that field."""
    table = _TABLES.get(desc) or _table(desc)
    total = payload = 0
    for key, value in d.items():
        f = table.get(key)
        if f is None or value is None or key == skip:
            continue
        tag, ftype, sub, special, repeated, packed, entry, presence = f
        if ftype == 9 and not repeated:  # string, the common case
            if value:
                n = len(value) if value.isascii() else len(value.encode())
                total += tag + n + (1 if n < 128 else _vlen(n))
        elif ftype == 11 and not repeated:
            if special == 0 and value.__class__ is dict:
                n, p = _fields(value, sub) if value else (0, 0)
            else:
                n, p = _message(value, sub, special)
            total += tag + n + (1 if n < 128 else _vlen(n))
            if payload_of is None or key == payload_of:
                payload += p
        elif ftype == 3 and not repeated:  # int64, written as a decimal string
            n = int(value)
            if n:
                total += tag + _vlen(n)
        elif entry:
            (ktag, ktype, *_), (vtag, vtype, vsub, vspecial, *_) = entry
            for k, v in value.items():
                n = ktag + _scalar(ktype, k, None) if k else 0
                if vtype == 11:
                    m, p = _message(v, vsub, vspecial)
                    n += vtag + _vlen(m) + m
                    payload += p
                elif v is not None:
                    m = _scalar(vtype, v, vsub)
                    n += vtag + m if m else 0
                total += tag + _vlen(n) + n
        elif ftype == 11:
            for v in value:
                n, p = _message(v, sub, special)
                total += tag + _vlen(n) + n
                payload += p
        elif packed:
            n = sum(_scalar(ftype, v, sub) or _FIXED.get(ftype, 1) for v in value)
            total += tag + _vlen(n) + n if value else 0
        elif repeated:
            total += sum(tag + (_scalar(ftype, v, sub) or 1) for v in value)
        else:
            n = _scalar(ftype, value, sub)
            total += tag + n if n else (tag + 1 if presence else 0)
    return total, payload


_EVENT = HistoryEvent.DESCRIPTOR


def _time_bytes(ns: np.ndarray) -> np.ndarray:
    """Bytes of each event's eventTime field (a Timestamp message) from nanoseconds since the epoch."""
    s, n = ns // 1_000_000_000, ns % 1_000_000_000

    def vlen(x: np.ndarray) -> np.ndarray:
        bits = np.floor(np.log2(np.maximum(x, 1))).astype(np.int64) + 1
        return np.where(x < 0, 10, (bits + 6) // 7)

    return 2 + np.where(s != 0, 1 + vlen(s), 0) + np.where(n != 0, 1 + vlen(n), 0)


# ---------------------------------------------------------------------------------------------------------------
# The table

def _category(which: str) -> str:
    for prefix, category in _CATEGORY:
        if which.startswith(prefix):
            return category
    return "workflow"


_ONEOF = {f.name: f for f in _EVENT.oneofs_by_name["attributes"].fields}
_REFS = ("scheduled_event_id", "initiated_event_id", "accepted_event_id", "started_event_id")


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(w.capitalize() for w in rest)


_SNAKES: dict[str, str] = {}


def _snake(camel: str) -> str:
    snake = _SNAKES.get(camel)
    if snake is None:
        snake = _SNAKES[camel] = re.sub("([A-Z])", r"_\1", camel).lower()
    return snake


_KINDS: dict[str, tuple[Any, ...]] = {}


def _kind(which: str) -> tuple[str, tuple[str, ...], tuple[str, ...], bool]:
    """For an attributes oneof name: (category, ref fields, failure fields, has an attempt field) in JSON names."""
    kind = _KINDS.get(which)
    if kind is None:
        f = _ONEOF.get(which)
        names = set(f.message_type.fields_by_name) if f is not None else None
        refs = tuple(_camel(n) for n in _REFS if names is None or n in names)
        failures = tuple(_camel(n) for n in ("failure", "last_failure") if names is None or n in names)
        kind = _KINDS[which] = (_category(which), refs, failures, names is None or "attempt" in names)
    return kind


_CARRIES: dict[Any, bool] = {}


def _carries_payload(desc: Descriptor) -> bool:
    """Whether a message type can hold a Payload anywhere inside (memoised; skips most of a history)."""
    found = _CARRIES.get(desc)
    if found is None:
        seen, stack, found = set(), [desc], False
        while stack and not found:
            d = stack.pop()
            found = d.full_name == _PAYLOAD
            if d not in seen:
                seen.add(d)
                stack.extend(f.message_type for f in d.fields if f.message_type is not None)
        _CARRIES[desc] = found
    return found


def _payload_bytes(msg: Message) -> int:
    if msg.DESCRIPTOR.full_name == _PAYLOAD:
        return msg.ByteSize()
    if not _carries_payload(msg.DESCRIPTOR):
        return 0
    total = 0
    for fd, value in msg.ListFields():
        if fd.message_type is None or not _carries_payload(fd.message_type):
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


def _ref_field(attrs: Message) -> int | None:
    """The id of the event that opened this event's activity, timer, child or update."""
    for name in _REFS:
        if name in attrs.DESCRIPTOR.fields_by_name and getattr(attrs, name):
            return int(getattr(attrs, name))
    return None


def _patch_id(data: bytes) -> str | None:
    try:
        return f"patch {json.loads(data)['id']}"
    except (ValueError, KeyError, TypeError):
        return None


def _at(obj: Any, *path: str) -> Any:
    """A nested field of a proto message or of its JSON dict ("" when absent)."""
    for field in path:
        obj = (obj.get(_camel(field)) if isinstance(obj, dict) else getattr(obj, field))
        if obj is None:
            return ""
    return obj


def _own_name(which: str, a: Any) -> str | None:
    """The name an event gives its activity/timer/child/signal/update/marker; `a` is a proto message or a JSON dict."""
    if which == "activity_task_scheduled_event_attributes":
        return f"{_at(a, 'activity_type', 'name')} #{_at(a, 'activity_id')}"
    if which == "timer_started_event_attributes":
        return f"timer {_at(a, 'timer_id')}"
    if which == "start_child_workflow_execution_initiated_event_attributes":
        return f"child {_at(a, 'workflow_type', 'name')} ({_at(a, 'workflow_id')})"
    if which == "workflow_execution_signaled_event_attributes":
        return f"signal {_at(a, 'signal_name')}"
    if which == "workflow_execution_update_accepted_event_attributes":
        return f"update {_at(a, 'accepted_request', 'input', 'name')}"
    if which == "workflow_execution_update_admitted_event_attributes":
        return f"update {_at(a, 'request', 'input', 'name')}"
    if which == "marker_recorded_event_attributes":
        name = None
        if isinstance(a, dict):
            payloads = (((a.get("details") or {}).get("patch-data") or {}).get("payloads")) or []
            if payloads and isinstance(payloads[0], dict) and set(payloads[0]) <= _PAYLOAD_KEYS:
                try:
                    name = _patch_id(base64.b64decode(payloads[0].get("data") or ""))
                except ValueError:
                    pass
            elif payloads and isinstance(payloads[0], dict) and "id" in payloads[0]:  # decoded by the Web UI
                name = f"patch {payloads[0]['id']}"
        elif "patch-data" in a.details and a.details["patch-data"].payloads:
            name = _patch_id(a.details["patch-data"].payloads[0].data)
        return name or f"marker {_at(a, 'marker_name')}"
    if which == "signal_external_workflow_execution_initiated_event_attributes":
        return f"signal-out {_at(a, 'signal_name')}"
    if which == "workflow_execution_started_event_attributes":
        return _at(a, "workflow_type", "name")
    return None


def _failure(which: str, attrs: Any) -> str | None:
    for field in ("failure", "last_failure"):
        if field in attrs.DESCRIPTOR.fields_by_name and attrs.HasField(field):
            f = getattr(attrs, field)
            return f.message or f.cause.message or type(f).__name__
    if which.endswith("_timed_out_event_attributes"):
        return "timed out"
    return None


def _json_failure(which: str, a: dict[str, Any], fields: tuple[str, ...]) -> str | None:
    for field in fields:
        f = a.get(field)
        if isinstance(f, dict):
            return f.get("message") or (f.get("cause") or {}).get("message") or "Failure"
    return "timed out" if which.endswith("_timed_out_event_attributes") else None


def _proto_rows(events: Sequence[HistoryEvent]) -> tuple[list[tuple[Any, ...]], list[Any]]:
    rows, times = [], []
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
        times.append(e.event_time.seconds * 1_000_000 + e.event_time.nanos // 1000)  # µs, as ToDatetime() truncates
        rows.append((
            e.event_id, _TYPE_NAMES.get(e.event_type, str(e.event_type)), category, own or names.get(ref), lane, ref,
            int(attrs.attempt) if attrs is not None and "attempt" in attrs.DESCRIPTOR.fields_by_name else None,
            _failure(which, attrs) if attrs is not None else None,
            _payload_bytes(attrs) if attrs is not None else 0,
            e.ByteSize(),
        ))
    return rows, times


def _json_rows(raw: list[dict[str, Any]], name: str) -> tuple[list[tuple[Any, ...]], pd.DatetimeIndex]:
    times = pd.to_datetime(pd.Series([e["eventTime"] for e in raw]), utc=True, format="ISO8601", errors="coerce")
    if times.isna().any():
        bad = raw[int(np.argmax(times.isna().to_numpy()))]
        raise _malformed(name, bad, f"unreadable eventTime {bad.get('eventTime')!r} (expected RFC3339, e.g. "
                                    "2025-01-31T12:00:00.123Z)")
    ns = times.dt.as_unit("ns").astype("int64").to_numpy()
    time_bytes = _time_bytes(ns)
    rows = []
    names: dict[int, str] = {}
    for e, tb in zip(raw, time_bytes):
        event_id = int(e["eventId"])
        key = next((k for k in e if k.endswith("EventAttributes")), None)
        a = e[key] if key else None
        which = _snake(key) if key else ""
        category, refs, failures, has_attempt = _kind(which) if key else ("workflow", (), (), False)
        if a is not None and not isinstance(a, dict):
            raise _malformed(name, e, f"{key} is {str(a)[:40]!r}, not an object")
        own = _own_name(which, a) if a is not None else None
        ref = event_id
        if a is not None and own is None:
            for field in refs:
                value = a.get(field)
                if value and int(value):
                    ref = int(value)
                    break
        if own is not None:
            names[event_id] = own
        lane = "workflow" if category in ("workflow", "workflow task", "signal", "update", "marker") else names.get(ref, category)
        try:
            size, payload = _fields(e, _EVENT, "eventTime", key)
            attempt = int(a.get("attempt") or 0) if a is not None and has_attempt else None
        except (TypeError, ValueError, AttributeError) as err:
            raise _malformed(name, e, f"a field the SDK could not read ({err})") from None
        rows.append((event_id, _type_names(e)[1], category, own or names.get(ref), lane, ref, attempt,
                     _json_failure(which, a, failures) if a is not None else None, payload, size + int(tb)))
    return rows, times


def _pending_rows(history: LabHistory, df: pd.DataFrame) -> pd.DataFrame:
    """One `PendingActivity` row per activity describe() lists: attempt, last failure, state, next attempt time."""
    now = pd.Timestamp(history.now).tz_convert("UTC") if history.now else pd.Timestamp.now(tz="UTC")
    scheduled = df[df["type"] == "ActivityTaskScheduled"]
    by_id = {str(n).rsplit(" #", 1)[-1]: (n, ref) for n, ref in zip(scheduled["name"], scheduled["ref"])}

    def stamp(p: Any, field: str) -> pd.Timestamp:
        return pd.Timestamp(getattr(p, field).ToDatetime(), tz="UTC") if p.HasField(field) else pd.NaT

    rows = []
    for p in history.pending:
        own, ref = by_id.get(p.activity_id, (f"{p.activity_type.name} #{p.activity_id}", pd.NA))
        rows.append({
            "event_id": pd.NA, "time": now, "type": "PendingActivity", "category": "activity", "name": own,
            "lane": own, "ref": ref, "attempt": int(p.attempt),
            "failure": (p.last_failure.message or "Failure") if p.HasField("last_failure") else None,
            "payload_bytes": 0, "event_bytes": 0,
            "state": PendingActivityState.Name(p.state).removeprefix("PENDING_ACTIVITY_STATE_").lower().replace("_", " "),
            "last_started": stamp(p, "last_started_time"), "next_attempt": stamp(p, "next_attempt_schedule_time"),
        })
    extra = pd.DataFrame(rows).astype({"event_id": "Int64", "ref": "Int64", "attempt": "Int64"})
    for column in ("last_started", "next_attempt"):
        extra[column] = pd.to_datetime(extra[column], utc=True).astype("datetime64[us, UTC]")
    return extra


class HistoryFrame(pd.DataFrame):
    """A history table as pandas shows it to a learner: no row-number index beside `event_id` (an index set on
    purpose, e.g. by `set_index`, is shown), and a blank for "no value" instead of a mix of NaN and <NA>."""

    @property
    def _constructor(self) -> type:
        return HistoryFrame

    def _show_index(self) -> bool:
        return self.index.nlevels > 1 or self.index.name is not None

    def _shown(self) -> pd.DataFrame:
        """A plain copy for display: nullable integer columns as objects, so that <NA> prints as a blank too."""
        out = pd.DataFrame(self)
        for col in out.columns[[isinstance(t, pd.api.extensions.ExtensionDtype) and t.kind in "iu"
                                for t in out.dtypes]]:
            out[col] = out[col].astype(object).where(out[col].notna(), "")
        return out

    def _repr_html_(self) -> str | None:
        if not pd.get_option("display.notebook_repr_html"):
            return None
        rows, cols = pd.get_option("display.max_rows"), pd.get_option("display.max_columns")
        return self._shown().to_html(index=self._show_index(), na_rep="", notebook=True, max_rows=rows,
                                     max_cols=cols, show_dimensions=len(self) > (rows or len(self)))

    def __repr__(self) -> str:
        rows = pd.get_option("display.max_rows")
        return self._shown().to_string(index=self._show_index(), na_rep="", max_rows=rows,
                                       min_rows=pd.get_option("display.min_rows"),
                                       max_cols=pd.get_option("display.max_columns"),
                                       show_dimensions=len(self) > (rows or len(self)))


def to_frame(history: WorkflowHistory | list[HistoryEvent]) -> pd.DataFrame:
    """One row per event: id, time, seconds since start, type, category, name, lane, attempt, failure, sizes.

    A legacy history whose names were mapped (DecisionTask* -> WorkflowTask*) adds an `original_type` column;
    a history from `fetch_history(handle, pending=True)` of a running workflow adds one `PendingActivity` row
    per pending activity (no event id; time = when describe() was read) and the columns `state`,
    `last_started`, `next_attempt`; `df.attrs["now"]` is that moment (timeline draws up to it)."""
    raw = history.raw if isinstance(history, LabHistory) else None
    if raw is not None:
        rows, times = _json_rows(raw, history.source)
        time_col = times.dt.floor("us").astype("datetime64[us, UTC]")
    else:
        events = history.events if isinstance(history, WorkflowHistory) else history
        rows, micros = _proto_rows(events)
        time_col = pd.Series(np.array(micros, dtype="int64").astype("datetime64[us]")).dt.tz_localize("UTC")
    df = pd.DataFrame.from_records(rows, columns=[c for c in COLUMNS if c not in ("time", "t")])
    df.insert(1, "time", time_col.reset_index(drop=True) if len(df) else pd.Series([], dtype="datetime64[us, UTC]"))
    df["time"] = pd.to_datetime(df["time"], utc=True)
    df.insert(2, "t", (df["time"] - df["time"].iloc[0]).dt.total_seconds() if len(df) else [])
    df["attempt"] = df["attempt"].astype("Int64")
    if raw is not None and any("_original_type" in e for e in raw):
        df["original_type"] = [e.get("_original_type") for e in raw]
    if isinstance(history, LabHistory) and history.now is not None:
        df.attrs["now"] = pd.Timestamp(history.now).tz_convert("UTC")
        if history.pending:
            extra = _pending_rows(history, df)
            extra["t"] = (extra["time"] - df["time"].iloc[0]).dt.total_seconds()
            df = pd.concat([df.astype({"event_id": "Int64", "ref": "Int64"}), extra], ignore_index=True)
            df["time"] = pd.to_datetime(df["time"], utc=True)
            df.attrs["now"] = pd.Timestamp(history.now).tz_convert("UTC")
    table = HistoryFrame(df)
    table.attrs.update(df.attrs)
    return table
