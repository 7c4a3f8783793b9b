"""Pictures of a history DataFrame (from `history.to_frame`): a swimlane timeline and history growth.

Figures are built without pyplot, so a cell shows each exactly once (as the cell's value).
"""

from __future__ import annotations

import io
from typing import Any, Iterable, Mapping

import pandas as pd
import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

COLORS = {
    "wait": "#d9d9d9", "retry": "#fdd0a2", "ok": "#31a354", "failed": "#de2d26", "timed out": "#fd8d3c",
    "canceled": "#969696", "running": "#9ecae1", "timer": "#3182bd", "child": "#756bb1", "task": "#636363",
    "signal": "#8856a7", "update": "#1c9099", "marker": "#e6550d",
}
LEGEND = (("task", "workflow task"), ("wait", "scheduled, not started"), ("retry", "retrying"), ("ok", "completed"),
          ("running", "running"), ("failed", "failed"), ("timed out", "timed out"), ("canceled", "canceled"),
          ("timer", "timer"), ("child", "child workflow"))
_CLOSE = {
    "ActivityTaskCompleted": "ok", "ActivityTaskFailed": "failed", "ActivityTaskTimedOut": "timed out",
    "ActivityTaskCanceled": "canceled", "ChildWorkflowExecutionCompleted": "ok",
    "ChildWorkflowExecutionFailed": "failed", "ChildWorkflowExecutionTimedOut": "timed out",
    "ChildWorkflowExecutionCanceled": "canceled", "ChildWorkflowExecutionTerminated": "failed",
    "TimerFired": "ok", "TimerCanceled": "canceled",
}


class LabFigure(Figure):
    """A matplotlib Figure that shows itself as a PNG when it is a cell's value (no pyplot needed)."""

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png", dpi=100)
        return buf.getvalue()


def _seconds(value: Any, t0: pd.Timestamp) -> float:
    if isinstance(value, (int, float)):
        return float(value) - t0.timestamp()
    stamp = pd.Timestamp(value)
    return (stamp if stamp.tzinfo else stamp.tz_localize("UTC")).timestamp() - t0.timestamp()


def _unit(seconds: float) -> tuple[str, float]:
    """A readable time unit for an axis that spans `seconds`."""
    for unit, size in (("days", 86400.0), ("hours", 3600.0), ("minutes", 60.0)):
        if seconds >= 3 * size:
            return unit, size
    return "seconds", 1.0


def _spans(df: pd.DataFrame, t_end: float, t0: pd.Timestamp, scale: float) -> list[dict[str, Any]]:
    """One span per activity / timer / child: open, start, close times, outcome, attempts, last failure; a
    `PendingActivity` row (describe()) adds its state, attempt, last failure and next attempt time."""
    spans: dict[Any, dict[str, Any]] = {}
    sel = df[df["category"].isin(["activity", "timer", "child"])]
    pending = "state" in sel.columns
    cols = [sel[c].tolist() for c in ("ref", "lane", "category", "t", "type", "attempt", "failure")]
    extra = [sel[c].tolist() for c in ("state", "last_started", "next_attempt")] if pending else [[None] * len(sel)] * 3
    for ref, lane, category, t, typ, attempt, failure, state, started, nxt in zip(*cols, *extra):
        failure = failure if isinstance(failure, str) else None
        s = spans.setdefault(ref, {"lane": lane, "kind": category, "open": t, "start": None, "close": None,
                                   "outcome": "running", "attempt": 1, "failure": None, "pending": None, "next": None})
        if typ in ("ActivityTaskStarted", "ChildWorkflowExecutionStarted"):
            s["start"] = t
            if attempt is not pd.NA and attempt:
                s["attempt"] = int(attempt)
            s["failure"] = failure or s["failure"]
        elif typ in _CLOSE:
            s["close"], s["outcome"] = t, _CLOSE[typ]
            s["failure"] = failure or s["failure"]
        elif typ == "PendingActivity":
            s["pending"], s["attempt"], s["failure"] = state, int(attempt), failure or s["failure"]
            if state == "started" and not pd.isna(started):
                s["start"] = _seconds(started, t0) / scale
            if not pd.isna(nxt):
                s["next"] = _seconds(nxt, t0) / scale
    for s in spans.values():
        s["close"] = t_end if s["close"] is None else s["close"]
        s["start"] = (s["open"] if s["pending"] != "scheduled" else t_end) if s["start"] is None else s["start"]
    return list(spans.values())


def _text_width(text: str, fig: Figure, x_range: float, points: float = 8.0) -> float:
    """About how wide `text` in `points`-pt type is, in x data units, on an axes about 3/4 of the figure wide
    (~0.6 em per character): an estimate without a drawing pass, which a live panel redrawn twice a second skips."""
    return len(text) * 0.6 * points / 72 / (fig.get_figwidth() * 0.75) * x_range


def _lane_of(lane: str, collapse: bool) -> str:
    return lane.split(" #", 1)[0] if collapse else lane


def timeline(
    df: pd.DataFrame,
    attempts: pd.DataFrame | Iterable[Mapping[str, Any]] | None = None,
    marks: Mapping[str, Any] | None = None,
    title: str | None = None,
    max_lanes: int = 24,
) -> Figure:
    """Swimlanes: the workflow's tasks and signals/updates/markers, then one lane per activity/timer/child.

    An activity that was retried shows its scheduled-to-started span hatched and labelled with the final
    attempt number and last failure (all the history keeps). Pass `attempts` (rows with `activity_id`,
    `attempt`, `start`, `end`, optional `error`) to draw every attempt as its own bar; `marks` maps a
    label to a time (datetime or epoch seconds) drawn as a vertical line, e.g. {"worker killed": t}.
    A running workflow's frame from `fetch_history(handle, pending=True)` draws up to "now" and labels each
    pending activity with its attempt, last failure and the time to its next attempt (from describe()).
    """
    t0 = df["time"].iloc[0]
    now = df.attrs.get("now")  # a running workflow's frame from fetch_history(..., pending=True)
    t_last = max(float(df["t"].max()), _seconds(now, t0) if now is not None else 0.0)
    unit, scale = _unit(t_last)
    df = df.assign(t=df["t"] / scale)
    t_end = t_last / scale
    spans = _spans(df, t_end, t0, scale)
    collapse = len({s["lane"] for s in spans}) > max_lanes
    lanes = ["workflow"] + list(dict.fromkeys(_lane_of(s["lane"], collapse) for s in spans))
    y = {lane: i for i, lane in enumerate(lanes)}
    fig = LabFigure(figsize=(11, 1.2 + 0.42 * len(lanes)), layout="constrained")
    ax = fig.add_subplot()
    h = 0.6

    def bars(lane: str, xs: list[tuple[float, float]], color: str, **kw: Any) -> None:
        if xs:  # one PolyCollection of rectangles (what broken_barh makes, without its per-bar unit handling)
            a, b = np.array(sorted(xs), dtype=float).T
            b = a + np.maximum(b - a, t_end / 400 or 0.01)
            if len(a) > 2000:  # thousands of bars: merge those closer than a pixel (the picture is the same)
                gap = a[1:] > np.maximum.accumulate(b)[:-1] + t_end / 2000
                starts = np.concatenate([[0], np.flatnonzero(gap) + 1])
                a, b = a[starts], np.maximum.reduceat(b, starts)
            y0, y1 = np.full_like(a, y[lane] - h / 2), np.full_like(a, y[lane] + h / 2)
            verts = np.stack([np.stack(p, axis=1) for p in ((a, y0), (a, y1), (b, y1), (b, y0))], axis=1)
            ax.add_collection(PolyCollection(verts, facecolors=color, edgecolor=kw.pop("edgecolor", "none"), **kw),
                              autolim=True)

    # the workflow's own lane: workflow tasks and ticks
    tasks = df[df["category"] == "workflow task"]
    opened: dict[int, float] = {}
    ok_tasks: list[tuple[float, float]] = []
    bad_tasks: list[tuple[float, float]] = []
    for event_id, typ, ref, t in zip(tasks["event_id"].tolist(), tasks["type"].tolist(), tasks["ref"].tolist(),
                                     tasks["t"].tolist()):
        if typ == "WorkflowTaskScheduled":
            opened[event_id] = t
        elif typ in ("WorkflowTaskCompleted", "WorkflowTaskFailed", "WorkflowTaskTimedOut"):
            start = opened.pop(ref, t)
            (ok_tasks if typ == "WorkflowTaskCompleted" else bad_tasks).append((start, t))
    bars("workflow", ok_tasks, COLORS["task"])
    bars("workflow", bad_tasks, COLORS["failed"])
    used = {"task"} if ok_tasks else set()  # what is drawn: the legend lists only these
    used |= {"failed"} if bad_tasks else set()
    for category, marker, dy in (("signal", "v", -0.22), ("update", "D", 0.0), ("marker", "|", 0.22)):
        sel = df[df["category"] == category]
        sel = sel[~sel["type"].str.endswith(("Completed", "Failed"))]
        if len(sel):
            used.add(category)
            ax.plot(sel["t"], [y["workflow"] + dy] * len(sel), marker, color=COLORS[category], ms=8, ls="none")

    # activities, timers, children
    by_style: dict[tuple[str, str, bool], list[tuple[float, float]]] = {}
    for s in spans:
        lane = _lane_of(s["lane"], collapse)
        waited = "retry" if s["attempt"] > 1 else "wait"
        by_style.setdefault((lane, waited, waited == "retry"), []).append((s["open"], s["start"]))
        color = {"timer": "timer", "child": "child"}.get(s["kind"], s["outcome"]) if s["outcome"] in ("ok", "running") else s["outcome"]
        if s["kind"] == "activity" and s["outcome"] == "running":
            color = "running"
        if s["pending"] != "scheduled":  # waiting for its next attempt: nothing runs
            by_style.setdefault((lane, color, False), []).append((s["start"], s["close"]))
        if s["next"] is not None and not collapse:
            ax.plot([t_end, s["next"]], [y[lane]] * 2, ls=":", color="#a63603", lw=1.2)
            ax.plot([s["next"]], [y[lane]], ">", color="#a63603", ms=6)
        if (s["attempt"] > 1 or s["pending"]) and not collapse:
            note = f"attempt {s['attempt']}"
            if s["pending"]:  # from describe(): the history has no event for it yet
                note = f"pending (describe): {note} " + (
                    f"starts in {(s['next'] - t_end) * scale:.1f} s" if s["next"] is not None else s["pending"])
            note += f" · last: {s['failure'][:40]}" if s["failure"] else ""
            at, ha = s["open"], "left"
            if at + _text_width(note, fig, max(t_end, 1e-9), points=7.5) > t_end:  # would run past the right edge
                at, ha = max(s["close"], s["open"]), "right"
            ax.annotate(note, (at, y[lane] - h / 2), xytext=(0, 1), textcoords="offset points",
                        fontsize=7.5, color="#7f2704", va="bottom", ha=ha)
    for (lane, style, hatched), xs in by_style.items():
        used.add(style)
        bars(lane, xs, COLORS[style], hatch="///" if hatched else None, edgecolor="#a63603" if hatched else "none")
    if now is not None:
        ax.axvline(t_end, color="#7f7f7f", ls=":", lw=1)
        ax.annotate(" now", (t_end, -0.55), fontsize=8, va="center", ha="left", color="#7f7f7f")
    ax.autoscale_view()

    if attempts is not None:
        log = pd.DataFrame(list(attempts)) if not isinstance(attempts, pd.DataFrame) else attempts
        visible = max(t_end, 0.1) / 120  # very short attempts still get a bar you can see
        for row in log.itertuples(index=False):
            match = [lane for lane in lanes if lane.endswith(f"#{row.activity_id}") or lane == str(row.activity_id)]
            if not match:
                continue
            a, b = _seconds(row.start, t0) / scale, _seconds(row.end, t0) / scale
            failed = isinstance(getattr(row, "error", None), str) and bool(row.error)
            ax.broken_barh([(a, max(b - a, visible))], (y[match[0]] - h * 0.4, h * 0.8), zorder=3,
                           facecolors=COLORS["failed" if failed else "ok"], edgecolor="black", linewidth=0.6)
            ax.annotate(str(row.attempt), (a + max(b - a, visible) / 2, y[match[0]] + h * 0.4), xytext=(0, -1),
                        textcoords="offset points", fontsize=7.5, ha="center", va="top", weight="bold")

    x_min, x_max = ax.get_xlim()
    top_end = -float("inf")  # where the last label on the top line ends: a label reaching back past it goes below
    for label, when in sorted((marks or {}).items(), key=lambda m: _seconds(m[1], t0)):  # datetimes or epoch s
        x = _seconds(when, t0) / scale
        ax.axvline(x, color="black", ls="--", lw=1)
        width = _text_width(f" {label}", fig, x_max - x_min)
        left = x + width > x_max  # it would run past the right edge (a live panel's newest fault): left of its line
        start, end = (x - width, x) if left else (x, x + width)
        crowded = start < top_end
        ax.annotate(f"{label} " if left else f" {label}", (x, len(lanes) - 0.55 if crowded else -0.55), fontsize=8,
                    va="center", ha="right" if left else "left",
                    bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.7, "pad": 0.5} if crowded else None)
        if not crowded:
            top_end = end

    ax.set_yticks(range(len(lanes)), [l if len(l) <= 38 else l[:15] + "…" + l[-22:] for l in lanes])
    ax.set_ylim(len(lanes) - 0.4, -0.8)
    ax.set_xlabel(f"{unit} since the workflow started")
    ax.grid(axis="x", alpha=0.3)
    kind = df.loc[df["type"] == "WorkflowExecutionStarted", "name"]
    ax.set_title(title or f"{kind.iloc[0] if len(kind) else 'workflow'}: {int(df['event_id'].notna().sum())} events")
    legend: list[Any] = [Patch(facecolor=COLORS[k], hatch="///", edgecolor="#a63603", label=label) if k == "retry"
                         else Patch(color=COLORS[k], label=label) for k, label in LEGEND if k in used]
    if any(s["pending"] for s in spans):
        legend.append(Line2D([], [], marker=">", ls=":", color="#a63603", label="next attempt (describe)"))
    legend += [Line2D([], [], marker=m, color=COLORS[c], ls="none", label=c)
               for c, m in (("signal", "v"), ("update", "D"), ("marker", "|")) if c in used]
    fig.legend(handles=legend, loc="outside lower center", ncol=9, fontsize=8, frameon=False)
    return fig


def growth(runs: pd.DataFrame | Mapping[str, pd.DataFrame] | list[pd.DataFrame], title: str | None = None,
           limit: int | None = None) -> Figure:
    """History size over time: events and bytes, one line per run (e.g. per continue-as-new run); `limit` draws the wall."""
    if isinstance(runs, pd.DataFrame):
        runs = {"run": runs}
    elif isinstance(runs, list):
        runs = {f"run {i + 1}": r for i, r in enumerate(runs)}
    fig = LabFigure(figsize=(11, 3.6), layout="constrained")
    ax_events, ax_bytes = fig.subplots(1, 2)
    t_first = min(df["time"].iloc[0] for df in runs.values())
    for label, df in runs.items():
        t = (df["time"] - t_first).dt.total_seconds()
        ax_events.plot(t, range(1, len(df) + 1), label=label)
        ax_bytes.plot(t, df["event_bytes"].cumsum() / 1024, label=label)
    if limit:
        ax_events.axhline(limit, color=COLORS["failed"], ls="--", lw=1)
        ax_events.annotate(f"history limit ({limit})", (0, limit), xytext=(2, 2), textcoords="offset points",
                           fontsize=8, color=COLORS["failed"])
    ax_events.set(xlabel="seconds", ylabel="events in history", title="events")
    ax_bytes.set(xlabel="seconds", ylabel="KiB", title="history size")
    for ax in (ax_events, ax_bytes):
        ax.grid(alpha=0.3)
    if len(runs) > 1:
        ax_events.legend(fontsize=8)
    fig.suptitle(title or "history growth")
    return fig
