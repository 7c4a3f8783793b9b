"""Time travel for a workflow: step through its history by replay, and rerun it from a step by reset.

- `step_through(history, Workflow)` replays the history with the SDK's real `Replayer`. A thin wrapper
  around the workflow runner (the public `WorkflowRunner` / `WorkflowInstance` interface) lets every
  workflow task's activation through unchanged, then sends the instance one more activation holding a
  query job - the same path a live query takes - and keeps the answer. One replay, one row per task.
- `rerun_from(handle, step=k)` finds the workflow task that scheduled step k and asks the server to
  reset the workflow to it (`ResetWorkflowExecution`): a new run keeps every result before step k.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any, Iterable

import pandas as pd
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowHandle, WorkflowHistory
from temporalio.service import RPCError, RPCStatusCode
from temporalio.worker import Replayer, WorkflowInstance, WorkflowInstanceDetails, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner

from .history import _TYPE_NAMES, fetch_history, load_history
from .server import LabError, quiet_runtime

_QUERY_ID = "lab-timetravel"


class _RecordingInstance(WorkflowInstance):
    """Passes each activation to the real instance, then asks it the state query (as a live query would)."""

    def __init__(self, inner: WorkflowInstance, det: WorkflowInstanceDetails, query: str, rows: list[dict[str, Any]]) -> None:
        self.inner, self.query, self.rows = inner, query, rows
        self.converter = det.payload_converter_factory()

    def activate(self, act: Any) -> Any:
        completion = self.inner.activate(act)
        jobs = [job.WhichOneof("variant") for job in act.jobs]
        if "remove_from_cache" in jobs or all(j == "query_workflow" for j in jobs):
            return completion  # an eviction or a real query: not a workflow task's progress
        row: dict[str, Any] = {"history_length": act.history_length, "replaying": act.is_replaying,
                               "jobs": ", ".join(jobs),
                               "commands": ", ".join(c.WhichOneof("variant") for c in completion.successful.commands)}
        if completion.HasField("failed"):
            row["state"] = {"task failed": completion.failed.failure.message}
        else:
            ask = type(act)()
            ask.CopyFrom(act)  # same time, flags and history length: the instance sees a plain query
            del ask.jobs[:]
            job = ask.jobs.add().query_workflow
            job.query_id, job.query_type = _QUERY_ID, self.query
            answer = self.inner.activate(ask)
            reply = [c.respond_to_query for c in answer.successful.commands if c.HasField("respond_to_query")]
            if not reply or reply[0].HasField("failed"):
                raise LabError(f"The state query {self.query!r} failed during replay: "
                               f"{reply[0].failed.message if reply else 'no answer'}. Fix: make it a plain read of workflow fields.")
            row["state"] = self.converter.from_payloads([reply[0].succeeded.response])[0]
        self.rows.append(row)
        return completion

    def get_serialization_context(self, command_info: Any) -> Any:
        return self.inner.get_serialization_context(command_info)

    def get_external_store_context(self, command_info: Any) -> Any:
        return self.inner.get_external_store_context(command_info)

    def get_info(self) -> Any:
        return self.inner.get_info()

    def get_thread_id(self) -> int | None:
        return self.inner.get_thread_id()


class _RecordingRunner(WorkflowRunner):
    def __init__(self, inner: WorkflowRunner, query: str, rows: list[dict[str, Any]]) -> None:
        self.inner, self.query, self.rows = inner, query, rows

    def prepare_workflow(self, defn: Any) -> None:
        self.inner.prepare_workflow(defn)

    def create_instance(self, det: WorkflowInstanceDetails) -> WorkflowInstance:
        return _RecordingInstance(self.inner.create_instance(det), det, self.query, self.rows)

    def set_worker_level_failure_exception_types(self, types: Any) -> None:
        self.inner.set_worker_level_failure_exception_types(types)


def _state_query(workflow_class: type, query: str | None) -> str:
    from temporalio.workflow import _Definition

    defn = _Definition.from_class(workflow_class)
    if defn is None:
        raise LabError(f"{workflow_class!r} is not a @workflow.defn class. Fix: pass the workflow class itself.")
    names = sorted(n for n in defn.queries if n)
    if query is None and len(names) == 1:
        return names[0]
    if query in names:
        return query  # type: ignore[return-value]
    raise LabError(f"{defn.name} has queries {names}; step_through needs one that returns its state. "
                   f"Fix: pass query=<one of {names}>.")


async def step_through(source: WorkflowHistory | WorkflowHandle[Any, Any] | str | Any, workflow_class: type,
                       query: str | None = None) -> pd.DataFrame:
    """Replay a history (handle, WorkflowHistory, or JSON file/text) with the real Replayer.

    Returns one row per workflow task: `task` (1-based), `event_id` (its WorkflowTaskStarted event), `t`
    (seconds since start), `replaying`, `events` (types of the events that led there), `commands`, and the
    state the workflow's own `query` returned at that point (dict keys become columns). Raises LabError
    for a class that is not a workflow or has no single state query; replay errors propagate.
    """
    if isinstance(source, WorkflowHandle):
        history = await fetch_history(source)
    elif isinstance(source, WorkflowHistory):
        history = source
    else:
        history = load_history(source)
    name = _state_query(workflow_class, query)
    rows: list[dict[str, Any]] = []
    replayer = Replayer(workflows=[workflow_class], runtime=quiet_runtime(),
                        workflow_runner=_RecordingRunner(SandboxedWorkflowRunner(), name, rows))
    await replayer.replay_workflow(history)
    return _frame(history.events, rows)


def _frame(events: list[HistoryEvent], rows: list[dict[str, Any]]) -> pd.DataFrame:
    t0 = events[0].event_time.ToDatetime().timestamp()
    by_id = {e.event_id: e for e in events}
    out, last = [], 0
    for i, row in enumerate(rows, start=1):
        n = row["history_length"]
        led = [_TYPE_NAMES.get(by_id[j].event_type, "?") for j in range(last + 1, n + 1) if j in by_id]
        state = row["state"]
        record = {"task": i, "event_id": n, "t": by_id[n].event_time.ToDatetime().timestamp() - t0 if n in by_id else None,
                  "replaying": row["replaying"], "events": ", ".join(led), "commands": row["commands"]}
        record.update(state if isinstance(state, dict) else {"state": state})
        out.append(record)
        last = n
    return pd.DataFrame(out)


def browse(steps: pd.DataFrame, events: pd.DataFrame, show: Iterable[str] = ("step", "status")) -> Any:
    """An ipywidgets slider over `step_through`'s rows: the state at task i, and the timeline marked there."""
    import ipywidgets as widgets
    from IPython.display import display

    from .plots import timeline

    out = widgets.Output()
    slider = widgets.IntSlider(value=1, min=1, max=len(steps), description="task", continuous_update=False)

    def draw(change: Any = None) -> None:
        out.clear_output(wait=True)
        with out:  # everything inside: an error shows in the widget (a slider callback's errors are otherwise lost)
            row = steps.iloc[slider.value - 1]
            when = events.loc[events["event_id"] == row["event_id"], "time"]
            plain = {k: row[k].item() if hasattr(row[k], "item") else row[k] for k in show if k in row}  # 1, not np.int64(1)
            print(f"task {row['task']} (event {row['event_id']}): " + ", ".join(f"{k}={v!r}" for k, v in plain.items()))
            print(f"  events that led here: {row['events']}")
            print(f"  commands it sent:     {row['commands'] or '-'}")
            display(timeline(events, marks={f"task {row['task']}": when.iloc[0]} if len(when) else None, max_lanes=6))

    slider.observe(draw, names="value")
    draw()
    return widgets.VBox([slider, out])


# ---- rerun from a step ----------------------------------------------------------------------------


def _scheduled(events: list[HistoryEvent]) -> list[HistoryEvent]:
    return [e for e in events if e.HasField("activity_task_scheduled_event_attributes")]


def reset_point(history: WorkflowHistory | list[HistoryEvent], step: int | None = None, *,
                activity: str | None = None, nth: int = 1) -> int:
    """Event id of the WorkflowTaskCompleted that scheduled step `step` (activity ids "<step>-...") or the
    `nth` activity of type `activity`: resetting there reruns that step and everything after it. LabError if none."""
    events = history.events if isinstance(history, WorkflowHistory) else list(history)
    scheduled = _scheduled(events)
    if (step is None) == (activity is None):
        raise LabError("Say where to rerun from: rerun_from(handle, step=k) or rerun_from(handle, activity='name', nth=n).")
    if step is not None:
        ids = [(e, e.activity_task_scheduled_event_attributes.activity_id.partition("-")) for e in scheduled]
        matches = [e for e, (head, dash, _) in ids if dash and head == str(step)]
        steps = sorted({int(head) for _, (head, dash, _) in ids if dash and head.isdigit()})
        if not steps:
            raise LabError("This workflow has no steps to rerun from: no activity id looks like '<step>-<name>'. "
                           "Fix: rerun_from(handle, activity='<activity type>', nth=n).")
        if not matches:
            raise LabError(f"Step {step} never ran: the history schedules steps {steps[0]}-{steps[-1]}. "
                           f"Fix: pick a step in that range (or wait until step {step} has started).")
        what = f"step {step}"
    else:
        matches = [e for e in scheduled if e.activity_task_scheduled_event_attributes.activity_type.name == activity]
        if len(matches) < nth:
            names = sorted({e.activity_task_scheduled_event_attributes.activity_type.name for e in scheduled})
            raise LabError(f"Activity {activity!r} #{nth} never ran (it was scheduled {len(matches)} times; "
                           f"activities in this history: {names}). Fix: pick one that ran.")
        matches = matches[nth - 1:]
        what = f"{activity} #{nth}"
    point = matches[0].activity_task_scheduled_event_attributes.workflow_task_completed_event_id
    completed = {e.event_id for e in events if e.HasField("workflow_task_completed_event_attributes")}
    if point not in completed:
        raise LabError(f"No workflow task completion before {what} in this history (event {point}): "
                       "there is no point to reset to. Fix: fetch the full history, not a slice of it.")
    return point


def _rpc_error(e: RPCError, namespace: str, workflow_id: str) -> LabError:
    text = str(e).split("\n")[0]
    if e.status == RPCStatusCode.NOT_FOUND and "namespace" in text.lower():
        return LabError(f"Namespace {namespace!r} does not exist (deleted or never created): {text}. "
                        "Fix: connect to the namespace the workflow ran in.")
    if e.status == RPCStatusCode.NOT_FOUND:
        return LabError(f"No workflow {workflow_id!r} in namespace {namespace!r}: {text}. Fix: check the id.")
    # CANCELLED: the connection to a server that just went away was dropped mid-call (seen under load)
    if e.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.CANCELLED) \
            or "transport error" in text.lower():
        return LabError(f"The Temporal server does not answer ({text}); was the lab closed? Fix: `lab = await setup()` again.")
    if "namespace" in text.lower():
        return LabError(f"Namespace {namespace!r} refuses the reset ({text}). Fix: use an active namespace.")
    return LabError(f"The server refused the reset: {text}.")


async def rerun_from(handle: WorkflowHandle[Any, Any], step: int | None = None, *, activity: str | None = None,
                     nth: int = 1, reapply_signals: bool = True, reapply_updates: bool = True,
                     reason: str = "rerun_from") -> WorkflowHandle[Any, Any]:
    """Reset the workflow to the task that scheduled step `step` (or the nth `activity`); returns the new run's handle.

    Results of everything before that point are kept (not run again); a still-running old run is
    terminated; a closed one keeps its status.
    Signals and updates received after the point are re-applied to the new run unless you say otherwise.
    Raises LabError for a step that never ran, a history with no such point, or a missing/closed namespace.
    """
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.enums.v1 import ResetReapplyExcludeType
    from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionRequest, ResetWorkflowExecutionRequest

    client = handle._client
    namespace = client.namespace
    try:
        await client.service_client.check_health(timeout=timedelta(seconds=5))  # no retries: a closed lab fails fast
        run_id = handle.run_id or (await client.workflow_service.describe_workflow_execution(DescribeWorkflowExecutionRequest(
            namespace=namespace, execution=WorkflowExecution(workflow_id=handle.id)))).workflow_execution_info.execution.run_id
        history = await client.get_workflow_handle(handle.id, run_id=run_id).fetch_history()
    except RPCError as e:
        raise _rpc_error(e, namespace, handle.id) from None
    point = reset_point(history, step, activity=activity, nth=nth)
    exclude = ([] if reapply_signals else [ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_SIGNAL]) + (
        [] if reapply_updates else [ResetReapplyExcludeType.RESET_REAPPLY_EXCLUDE_TYPE_UPDATE])
    request = ResetWorkflowExecutionRequest(
        namespace=namespace, workflow_execution=WorkflowExecution(workflow_id=handle.id, run_id=run_id),
        reason=reason, workflow_task_finish_event_id=point, request_id=str(uuid.uuid4()),
        reset_reapply_exclude_types=exclude)
    try:
        response = await client.workflow_service.reset_workflow_execution(request)
    except RPCError as e:
        raise _rpc_error(e, namespace, handle.id) from None
    return client.get_workflow_handle(handle.id, run_id=response.run_id, result_type=handle._result_type)
