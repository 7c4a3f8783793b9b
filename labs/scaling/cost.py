"""What one durable step costs: a plain call, a local activity, an activity, a child workflow - measured live.

`Steps` runs `n` steps of one kind, one after another, in one workflow, and times the loop inside the
workflow: for an activity or a child that includes every round trip through the server (the workflow
code resumes only in the next workflow task). What each kind writes into the history is counted from it.
"""

from __future__ import annotations

import statistics
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import pandas as pd

    from lab_support.history import fetch_history, to_frame

KINDS = ["plain call", "local activity", "activity", "child workflow"]
SURVIVES = {  # what a crashed worker leaves behind, per kind; the sources are named in notebook 10
    "plain call": "nothing: replay runs it again, so it must be deterministic",
    "local activity": "its result once the workflow task that ran it completes (a marker); else it runs again",
    "activity": "its result as soon as it completes; retried by the server on any worker",
    "child workflow": ("its own history: it keeps running independently of the parent's worker "
                       "(it is retried only if you give it a retry policy)"),
}
DEFAULT_N = {"plain call": 200_000, "local activity": 40, "activity": 20, "child workflow": 10}


def add_one(x: int) -> int:
    """The step itself: a plain Python call."""
    return x + 1


@activity.defn
async def add_one_activity(x: int) -> int:
    """The same step as an activity (run as a local activity or as a normal one)."""
    return x + 1


@dataclass
class StepPlan:
    kind: str  # one of KINDS
    n: int


@dataclass
class StepResult:
    x: int
    seconds: float  # the n steps, timed inside the workflow (wall clock of the worker)
    steps: list[float]  # each step's seconds (not for plain calls: timing 100,000 of them would cost more than they do)


@workflow.defn
class AddOne:
    @workflow.run
    async def run(self, x: int) -> int:
        return x + 1


def _clock() -> float:
    # Reading a clock in a workflow is for this measurement only: the value goes into the result, never
    # into a decision. (The worker keeps the workflow cached, so the loop is not replayed mid-measurement.)
    with workflow.unsafe.sandbox_unrestricted():
        return time.perf_counter()


@workflow.defn
class Steps:
    @workflow.run
    async def run(self, plan: StepPlan) -> StepResult:
        if plan.kind not in KINDS:
            raise ApplicationError(f"unknown step kind {plan.kind!r}; use one of {KINDS}", non_retryable=True)
        x, timeout = 0, timedelta(seconds=30)
        started = _clock()
        steps: list[float] = []
        for _ in range(plan.n):
            step_started = _clock() if plan.kind != "plain call" else 0.0
            if plan.kind == "plain call":
                x = add_one(x)
            elif plan.kind == "local activity":
                x = await workflow.execute_local_activity(add_one_activity, x, start_to_close_timeout=timeout)
            elif plan.kind == "activity":
                x = await workflow.execute_activity(add_one_activity, x, start_to_close_timeout=timeout)
            else:
                x = await workflow.execute_child_workflow(AddOne.run, x, id=f"{workflow.info().workflow_id}-c{x}")
            if plan.kind != "plain call":
                steps.append(_clock() - step_started)
        return StepResult(x, _clock() - started, steps)


async def run_steps(client: Client, task_queue: str, kind: str, n: int) -> tuple[StepResult, int]:
    """One Steps run of `n` steps of `kind`: its result (with the seconds they took) and its history's event count."""
    handle = await client.start_workflow(Steps.run, StepPlan(kind, n), id=f"steps-{uuid.uuid4().hex[:8]}",
                                         task_queue=task_queue)
    result = await handle.result()
    return result, len(to_frame(await fetch_history(handle)))


def _per_step(result: StepResult, n: int) -> float:
    """Seconds per step of one run: its median step, or the loop's mean when steps were not timed one by one."""
    return float(statistics.median(result.steps)) if result.steps else max(result.seconds, 1e-12) / max(n, 1)


async def measure_costs(client: Client, task_queue: str, n: dict[str, int] | None = None,
                        repeats: int = 3) -> pd.DataFrame:
    """One row per kind: seconds per step, steps/s, history events per step, what survives a crash.

    Median of `repeats` runs of `n[kind]` sequential steps, each timed inside the workflow (worker wall
    clock); a run's seconds per step is its median step (a load spike on a busy machine moves a mean, not a
    median), for plain calls the loop's mean. Needs a worker on `task_queue` with `Steps`, `AddOne` and `add_one_activity`
    (labs.scaling.worker, role="cost"). Event counts come from each run's history, minus a run of 0 steps.
    """
    n = {**DEFAULT_N, **(n or {})}
    _, empty_events = await run_steps(client, task_queue, "activity", 0)
    rows = []
    for kind in KINDS:
        runs = sorted([await run_steps(client, task_queue, kind, n[kind]) for _ in range(repeats)],
                      key=lambda r: _per_step(r[0], n[kind]))
        result, events = runs[repeats // 2]
        if result.x != n[kind]:
            raise RuntimeError(f"{kind}: expected {n[kind]} steps, the workflow made {result.x}")
        per_step = _per_step(result, n[kind])
        rows.append({"step": kind, "steps per run": n[kind], "seconds per step": per_step, "steps / s": 1 / per_step,
                     "history events per step": (events - empty_events) / n[kind], "survives a worker crash": SURVIVES[kind]})
    return pd.DataFrame(rows)
