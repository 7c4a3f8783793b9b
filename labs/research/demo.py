"""Lesson 12 helpers for the notebook and tests: the research desk (corpus, search, ledger, stores), model
scripts, search attributes, the architecture picture drawn from real histories, and the production checklist."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import pandas as pd
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError, RPCStatusCode

from lab_support.history import to_frame
from lab_support.ledger import Ledger
from lab_support.llm import Model
from lab_support.plots import COLORS, LabFigure
from lab_support.server import STATE, LabError

from .corpus import build_corpus
from .search import SearchService
from .workflows import SEARCH_ATTRIBUTES, root_cause  # noqa: F401 - root_cause is used by the notebook

ANSWER = ("The sources answer this directly [1], and a second passage adds the practical detail that matters "
          "in production [2].")
UNCITED = "It depends on the situation."
QUESTIONS = [
    "How should an agent retry a model call that answers HTTP 429 with a Retry-After header?",
    "How does a workflow continue after the worker process running it crashes?",
    "How do idempotency keys stop a retried step from publishing a report twice?",
]
HISTORIES = Path(__file__).parent / "histories"


@dataclass
class Desk:
    """Everything the research agent works with: corpus folder, search service, ledger, vector store, reports db."""

    folder: Path
    search: SearchService
    ledger: Ledger
    model: Model
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def store(self) -> Path:
        return self.folder / "vectors.db"

    @property
    def reports_db(self) -> Path:
        return self.folder / "reports.db"

    @property
    def corpus(self) -> Path:
        return self.folder / "corpus"

    def worker_config(self, **extra: Any) -> dict[str, Any]:
        """Keyword arguments for `labs.research.worker` (KernelWorker / SubprocessWorker)."""
        url = self.extra.get("search_url") or self.search.url
        return {"ledger": str(self.ledger.path), "search_url": url, "corpus": str(self.corpus),
                "store": str(self.store), "reports_db": str(self.reports_db), **self.model.worker_config(),
                **self.extra, **extra}

    def close(self) -> None:
        """Stop the search service (the model belongs to the caller)."""
        self.search.stop()


def open_desk(model: Model, name: str = "12", corpus: str | Path | None = None, **build: Any) -> Desk:
    """Write a fresh corpus under .lab-state/research/<name>-<id>/, start its search service on 127.0.0.1."""
    folder = STATE / "research" / f"{name}-{uuid.uuid4().hex[:8]}"
    if corpus is None:
        build_corpus(folder / "corpus", **build)
    else:
        (folder).mkdir(parents=True, exist_ok=True)
        (folder / "corpus").symlink_to(Path(corpus).resolve())
    search = SearchService(folder / "corpus").start()
    return Desk(folder, search, Ledger(folder / "ledger.db"), model)


def script_model(model: Model, questions: list[str] | None = None, answer: str = ANSWER,
                 uncited_first: int = 0) -> Model:
    """Give the local model its lines: the plan (a `submit_plan` tool call) and cited answers. No-op for a real model."""
    if model.fake is None:
        return model
    from llmock.scenarios import Match, Reply, ToolCall

    queue = model.fake.state.scenarios
    queue.add(Reply(tool_calls=(ToolCall("submit_plan", {"sub_questions": QUESTIONS if questions is None else questions}),), times=None,
                    match=Match(tools=True)))
    if uncited_first:
        queue.add(Reply(text=UNCITED, times=uncited_first, match=Match(tools=False)))
    queue.add(Reply(text=answer, times=None, match=Match(tools=False)))
    return model


def model_faults(model: Model, *, rate_limits: int = 0, retry_after: float = 0.5, slow: float = 0.0) -> None:
    """Faults on the local model's answers (not its plans): `rate_limits` 429s, then one answer `slow` seconds late."""
    if model.fake is None:
        raise LabError("Fault injection needs the local model. Fix: use start_model(fake=True) for this demo.")
    from llmock.scenarios import Delay, Fail, Match

    if rate_limits:
        model.fake.state.scenarios.add(Fail(429, retry_after=retry_after, times=rate_limits,
                                            message="Rate limit reached", match=Match(tools=False)))
    if slow:
        model.fake.state.scenarios.add(Delay(slow, times=1, match=Match(tools=False)))


async def ensure_search_attributes(client: Client, namespace: str = "default", timeout: float = 10.0) -> None:
    """Register ResearchStatus / ResearchTopic / ResearchStep (Keyword) on the server, if missing."""
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest

    names = [k.name for k in SEARCH_ATTRIBUTES]
    have = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
    missing = [n for n in names if n not in have.custom_attributes]
    if missing:
        try:
            await client.operator_service.add_search_attributes(AddSearchAttributesRequest(
                namespace=namespace,
                search_attributes={n: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for n in missing}))
        except RPCError as e:
            if e.status != RPCStatusCode.ALREADY_EXISTS:
                raise LabError(f"Cannot add search attributes {missing}: {e.message}. Fix: add them on the server "
                               f"(`temporal operator search-attribute create --name {missing[0]} --type Keyword`).") from None
    deadline = time.monotonic() + timeout
    while True:
        have = await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=namespace))
        if all(n in have.custom_attributes for n in names):
            return
        if time.monotonic() > deadline:
            raise LabError(f"Search attributes {names} did not appear within {timeout:g}s.")
        await asyncio.sleep(0.1)


async def child_handle(client: Client, workflow_id: str, timeout: float = 30.0) -> WorkflowHandle[Any, Any]:
    """A handle to a child workflow once the server knows it (its parent starts it a moment later)."""
    handle = client.get_workflow_handle(workflow_id)
    deadline = time.monotonic() + timeout
    while True:
        try:
            await handle.describe()
            return handle
        except RPCError as e:
            if e.status not in (RPCStatusCode.NOT_FOUND, RPCStatusCode.UNAVAILABLE) or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.05)


async def wait_status(handle: WorkflowHandle[Any, Any], status: str, timeout: float = 30.0) -> Any:
    """Poll the planner's `draft` query until its status is `status`; returns the Draft."""
    from .workflows import Planner

    deadline = time.monotonic() + timeout
    while True:
        try:
            draft = await handle.query(Planner.draft)
            if draft.status == status:
                return draft
        except RPCError as e:
            if e.status not in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED, RPCStatusCode.NOT_FOUND):
                raise
        if time.monotonic() > deadline:
            raise TimeoutError(f"{handle.id!r} did not reach status {status!r} within {timeout:g}s")
        await asyncio.sleep(0.1)


async def family(client: Client, planner_id: str) -> dict[str, pd.DataFrame]:
    """The planner's history and every child's (as DataFrames), keyed by workflow id, in start order."""
    history = await client.get_workflow_handle(planner_id).fetch_history()
    out, ids = {planner_id: to_frame(history)}, []
    for e in history.events:
        if e.HasField("child_workflow_execution_started_event_attributes"):
            ids.append(e.child_workflow_execution_started_event_attributes.workflow_execution.workflow_id)
    for wid in ids:
        out[wid] = to_frame(await client.get_workflow_handle(wid).fetch_history())
    return out


def activity_spans(frames: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per activity of every workflow: workflow, activity, scheduled/started/closed (epoch s), attempt, outcome."""
    rows = []
    for wid, df in frames.items():
        sched = df[df["type"] == "ActivityTaskScheduled"]
        for ev in sched.itertuples(index=False):
            mine = df[df["ref"] == ev.event_id]
            started = mine[mine["type"] == "ActivityTaskStarted"]
            closed = mine[mine["type"].isin(["ActivityTaskCompleted", "ActivityTaskFailed", "ActivityTaskTimedOut"])]
            rows.append({
                "workflow": wid, "activity": str(ev.name).split(" #")[0], "event_id": ev.event_id,
                "scheduled": ev.time.timestamp(),
                "started": started["time"].iloc[0].timestamp() if len(started) else None,
                "closed": closed["time"].iloc[0].timestamp() if len(closed) else None,
                "attempt": int(started["attempt"].iloc[0]) if len(started) else None,
                "outcome": closed["type"].iloc[0].removeprefix("ActivityTask").lower() if len(closed) else "open",
                "last_failure": started["failure"].iloc[0] if len(started) else None,
            })
    return pd.DataFrame(rows)


STEP_COLORS = {"plan_topic": "#6baed6", "search": "#fd8d3c", "extract": "#fdd0a2", "retrieve": "#74c476",
               "synthesise": "#9e9ac8", "publish": "#31a354", "announce": "#a1d99b", "retract": "#de2d26",
               "escalate": "#636363"}


def architecture(frames: Mapping[str, pd.DataFrame], attempts: pd.DataFrame | None = None,
                 marks: Mapping[str, float] | None = None, title: str | None = None) -> LabFigure:
    """The agent as it really ran: one lane per workflow (planner, executors, validator), one bar per activity
    from its history (colour = step), every attempt from the attempt log as a tick, faults as dashed lines."""
    planner_id = next(iter(frames))
    t0 = frames[planner_id]["time"].iloc[0].timestamp()
    lanes = list(frames)
    fig = LabFigure(figsize=(11, 1.4 + 0.5 * len(lanes)), layout="constrained")
    ax = fig.add_subplot()
    spans = activity_spans(frames)
    for y, wid in enumerate(lanes):
        df = frames[wid]
        a, b = df["time"].iloc[0].timestamp() - t0, df["time"].iloc[-1].timestamp() - t0
        ax.broken_barh([(a, max(b - a, 0.01))], (y - 0.35, 0.7), facecolors="#f0f0f0", edgecolor="#bdbdbd")
        for s in spans[spans["workflow"] == wid].itertuples(index=False) if len(spans) else []:
            start = (s.started or s.scheduled) - t0
            end = (s.closed or df["time"].iloc[-1].timestamp()) - t0
            if start - (s.scheduled - t0) > 0.05:  # scheduled, then waiting or retrying until the last attempt
                ax.broken_barh([(s.scheduled - t0, start - (s.scheduled - t0))], (y - 0.25, 0.5), hatch="///",
                               facecolors="none", edgecolor=STEP_COLORS.get(s.activity, "#969696"))
            ax.broken_barh([(start, max(end - start, 0.02))], (y - 0.25, 0.5),
                           facecolors=STEP_COLORS.get(s.activity, "#969696"))
            if s.attempt and s.attempt > 1:
                ax.annotate(f"×{s.attempt}", (start, y - 0.27), fontsize=7.5, color="#7f2704", va="bottom")
        if attempts is not None and len(attempts):
            mine = attempts[attempts["workflow"] == wid]
            failed = mine[mine["error"].notna()]
            ax.plot(failed["start"] - t0, [y + 0.3] * len(failed), "x", color=COLORS["failed"], ms=6)
    for label, when in (marks or {}).items():
        ax.axvline(when - t0, color="black", ls="--", lw=1)
        ax.annotate(f" {label}", (when - t0, -0.6), fontsize=8, va="center", rotation=0)
    short = [w.replace(planner_id, "planner") if w != planner_id else f"planner ({w[-6:]})" for w in lanes]
    ax.set_yticks(range(len(lanes)), short)
    ax.set_ylim(len(lanes) - 0.4, -0.9)
    ax.set_xlabel("seconds since the planner started")
    ax.grid(axis="x", alpha=0.3)
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    handles = [Patch(color=c, label=n) for n, c in STEP_COLORS.items()
               if len(spans) and n in set(spans["activity"])]
    handles.append(Line2D([], [], marker="x", color=COLORS["failed"], ls="none", label="failed attempt"))
    fig.legend(handles=handles, loc="outside lower center", ncol=len(handles), fontsize=8, frameon=False)
    ax.set_title(title or f"{len(lanes)} workflows, {len(spans)} activities: the agent's architecture, from its histories")
    return fig


def attempt_log(ledger: Ledger) -> pd.DataFrame:
    """Every activity attempt from the ledger: workflow, activity_id, attempt, start, end, error."""
    df = ledger.frame("attempt")
    parts = df["name"].str.rsplit("#", n=1)
    return pd.DataFrame({"workflow": parts.str[0], "activity_id": parts.str[1], "attempt": df["attempt"],
                         "start": df["started"], "end": df["finished"],
                         "error": df["key"].where(df["key"] != "", None)})


async def wait_in_flight(client: Client, workflow_ids: list[str], activity: str, min_age: float = 0.0,
                         timeout: float = 60.0) -> str:
    """Wait until one of `workflow_ids` has an attempt of `activity` running for at least `min_age` s; returns its id."""
    from temporalio.api.enums.v1 import PendingActivityState

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for wid in workflow_ids:
            try:
                description = await client.get_workflow_handle(wid).describe()
            except RPCError:
                continue  # not started yet
            for p in description.raw_description.pending_activities:
                if (p.activity_type.name == activity and p.state == PendingActivityState.PENDING_ACTIVITY_STATE_STARTED
                        and time.time() - p.last_started_time.ToSeconds() - p.last_started_time.nanos / 1e9 >= min_age):
                    return wid
        await asyncio.sleep(0.05)
    raise TimeoutError(f"No {activity} of {workflow_ids} ran for {min_age:g}s within {timeout:g}s.")


def recovery(marks: Mapping[str, float], ledger: Ledger, search_log: pd.DataFrame, model_log: pd.DataFrame,
             spans: pd.DataFrame) -> pd.DataFrame:
    """Each fault's recovery time, from the independent records: (fault, began, recovered, seconds, evidence)."""
    rows = []
    bad = search_log[search_log["status"] >= 500]
    if len(bad):
        ok = search_log[(search_log["status"] == 200) & (search_log["start"] > bad["start"].max())]
        rows.append(("500 burst on search", bad["start"].min(), ok["end"].max(),
                     f"{len(bad)} × 500, then {len(ok)} searches answered (search request log)"))
    limited = model_log[model_log["status"] == 429]
    if len(limited):
        ok = model_log[(model_log["status"] == 200) & (model_log["start"] > limited["start"].max())]
        rows.append(("429 storm on the model", limited["start"].min(), ok["end"].min(),
                     f"{len(limited)} × 429 with Retry-After, then the next answer (model request log)"))
    if "worker SIGKILL" in marks:
        t = marks["worker SIGKILL"]
        redo = spans[(spans["activity"] == "retrieve") & (spans["attempt"] > 1)]
        done = ledger.frame("retrieve")
        rows.append(("worker SIGKILLed in retrieve", t, done[done["finished"] > t]["finished"].min(),
                     f"{len(redo)} retrieve(s) retried after a heartbeat timeout (history), first done (ledger)"))
    if "server SIGKILL" in marks:
        t = marks["server SIGKILL"]
        after = spans[(spans["activity"] == "synthesise") & (spans["closed"] > t)]
        rows.append(("Temporal server SIGKILLed in synthesis", t, after["closed"].min(),
                     f"server back after {marks['server back'] - t:.1f} s; first synthesis completed after (history)"))
    df = pd.DataFrame(rows, columns=["fault", "began", "recovered", "evidence"])
    df.insert(3, "seconds", (df["recovered"] - df["began"]).round(2))
    return df


async def replay_live(frames: Mapping[str, Any], client: Client) -> dict[str, str]:
    """Replay the given workflows' live histories with today's code: workflow id -> "ok" or the error."""
    from temporalio.worker import Replayer

    from lab_support.server import quiet_runtime

    from .workflows import Executor, Planner, Validator, WeeklyResearch

    quiet_runtime()
    replayer = Replayer(workflows=[Planner, Executor, Validator, WeeklyResearch])
    out = {}
    for wid in frames:
        history = await client.get_workflow_handle(wid).fetch_history()
        result = await replayer.replay_workflow(history, raise_on_replay_failure=False)
        out[wid] = "ok" if result.replay_failure is None else str(result.replay_failure)[:120]
    return out


async def scheduled_policies(client: Client, workflow_ids: list[str]) -> pd.DataFrame:
    """Each activity type's timeouts and retry policy as the server recorded them (ActivityTaskScheduled events)."""
    rows = {}
    for wid in workflow_ids:
        history = await client.get_workflow_handle(wid).fetch_history()
        for e in history.events:
            if e.HasField("activity_task_scheduled_event_attributes"):
                a = e.activity_task_scheduled_event_attributes
                rows[a.activity_type.name] = {
                    "activity": a.activity_type.name, "max attempts": a.retry_policy.maximum_attempts or "∞",
                    "initial interval s": a.retry_policy.initial_interval.ToTimedelta().total_seconds(),
                    "max interval s": a.retry_policy.maximum_interval.ToTimedelta().total_seconds(),
                    "heartbeat timeout s": a.heartbeat_timeout.ToTimedelta().total_seconds() or None,
                    "non-retryable": ", ".join(a.retry_policy.non_retryable_error_types)}
    return pd.DataFrame(list(rows.values()))
