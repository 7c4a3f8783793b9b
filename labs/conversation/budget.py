"""The history budget, measured: run the same long conversation under different memory strategies.

`LIMITS` lowers the dev server's history-size limits (dynamic config) so that a session which keeps the
whole conversation in its history is terminated after a couple of dozen turns instead of thousands.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.service import RPCError

from lab_support.history import fetch_history, to_frame

from .session import say
from .workflows import Session

KIB = 1024
LIMIT_BYTES = 128 * KIB
LIMITS = {  # dynamic config for a private dev server (values in bytes)
    "limit.historySize.error": LIMIT_BYTES,
    "limit.historySize.warn": LIMIT_BYTES // 2,
    "limit.historySize.suggestContinueAsNew": LIMIT_BYTES // 2,
    "history.workflowIdReuseMinimalInterval": "0s",  # continue-as-new without the 1 s pause
}
FILLER = ("The rear derailleur skips under load on the 14-tooth cog, mostly on climbs, and the chain "
          "was replaced 800 km ago; the shop tightened the cable but the problem came back. ")


def user_message(turn: int, size: int = 2000) -> str:
    """The script's user message for `turn`: a question plus a pasted log excerpt, about `size` characters."""
    head = f"Turn {turn}: here is today's ride log, what do you make of it? "
    return (head + FILLER * (size // len(FILLER) + 1))[:size]


async def long_session(client: Client, session: Session, turns: int, task_queue: str,
                       size: int = 2000) -> dict[str, Any]:
    """Send `turns` scripted messages to a new session until done or the server ends it.

    Returns {"answered": replies received, "error": the error that ended it (or None), "first_run_id"}.
    """
    answered, error, first_run = 0, None, None
    for turn in range(1, turns + 1):
        try:
            await say(client, session, user_message(turn, size), task_queue)
        except (WorkflowUpdateFailedError, RPCError) as e:
            error = f"{type(e).__name__}: {getattr(e, 'cause', None) or e}"
            break
        answered += 1
        if first_run is None:
            first_run = (await client.get_workflow_handle(session.session_id).describe()).run_id
    return {"answered": answered, "error": error, "first_run_id": first_run}


async def turn_bytes(client: Client, workflow_id: str, first_run_id: str) -> pd.DataFrame:
    """Bytes recorded per turn, over every run of the session (read from the histories).

    One row per turn: turn, run, bytes (events of that turn), run_bytes (size of that run's history so
    far), status ("answered", or the closing event of a run that ended without answering: terminated).
    """
    rows: list[dict[str, Any]] = []
    run_id, run, turn = first_run_id, 1, 0
    while run_id:
        history = await fetch_history(client.get_workflow_handle(workflow_id, run_id=run_id))
        events = to_frame(history)
        since, total = 0, 0
        for _, e in events.iterrows():
            since += int(e["event_bytes"])
            total += int(e["event_bytes"])
            if e["type"] == "WorkflowExecutionUpdateCompleted":
                turn += 1
                rows.append({"turn": turn, "run": run, "bytes": since, "run_bytes": total, "status": "answered"})
                since = 0
        last = history.events[-1]
        if last.HasField("workflow_execution_continued_as_new_event_attributes"):
            run_id = last.workflow_execution_continued_as_new_event_attributes.new_execution_run_id
            run += 1
        else:
            if events["type"].iloc[-1] == "WorkflowExecutionTerminated":
                rows.append({"turn": turn + 1, "run": run, "bytes": since, "run_bytes": total, "status": "terminated"})
            run_id = None
    return pd.DataFrame(rows, columns=["turn", "run", "bytes", "run_bytes", "status"])


def plot_budget(frames: dict[str, pd.DataFrame], limit: int = LIMIT_BYTES, title: str | None = None) -> Any:
    """Two panels, one line per strategy: bytes recorded per turn, and the current run's history size."""
    from lab_support.plots import LabFigure

    fig = LabFigure(figsize=(11, 3.6), layout="constrained")
    per_turn, size = fig.subplots(1, 2)
    for label, df in frames.items():
        per_turn.plot(df["turn"], df["bytes"] / KIB, marker=".", label=label)
        size.plot(df["turn"], df["run_bytes"] / KIB, marker=".", label=label)
        ended = df[df["status"] == "terminated"]
        size.scatter(ended["turn"], ended["run_bytes"] / KIB, marker="x", s=80, color="black", zorder=5)
    size.axhline(limit / KIB, color="tab:red", ls="--", lw=1)
    size.annotate(f"history size limit ({limit // KIB} KiB): terminated", (1, limit / KIB), xytext=(2, -12),
                  textcoords="offset points", fontsize=8, color="tab:red")
    per_turn.set(xlabel="turn", ylabel="KiB", title="bytes recorded per turn")
    size.set(xlabel="turn", ylabel="KiB", title="history size of the current run")
    for ax in (per_turn, size):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(title or "the history budget: one conversation, several memory strategies")
    return fig
