"""plots: the pictures carry the bars, lanes and labels the history implies."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

from lab_support.history import to_frame
from lab_support.plots import growth, timeline


def _bars(fig) -> int:
    ax = fig.axes[0]
    return sum(len(c.get_paths()) for c in ax.collections if isinstance(c, PolyCollection))


def _lanes(fig) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_yticklabels()]


def test_timeline_has_a_lane_per_activity_timer_and_child(sink_history):
    fig = timeline(to_frame(sink_history))
    lanes = _lanes(fig)
    assert lanes[0] == "workflow"
    assert {"flaky #1", "steady #2", "timer 1"} <= set(lanes)
    assert any(l.startswith("child ChildAgent") for l in lanes)
    assert len(lanes) == 5
    assert fig.axes[0].get_title() == "KitchenSink: 42 events"


def test_timeline_bars(sink_history):
    df = to_frame(sink_history)
    fig = timeline(df)
    tasks = (df["type"] == "WorkflowTaskCompleted").sum()
    spans = 4  # flaky, timer, child, steady: one wait bar + one run bar each
    assert _bars(fig) == tasks + 2 * spans


def test_retried_activity_is_labelled_with_attempts_and_last_failure(sink_history):
    fig = timeline(to_frame(sink_history))
    notes = [t.get_text() for t in fig.axes[0].texts]
    assert any("attempt 3" in n and "model overloaded (attempt 2)" in n for n in notes)


def test_attempt_log_draws_one_bar_per_attempt(sink_history):
    df = to_frame(sink_history)
    t0 = df["time"].iloc[0]
    log = [{"activity_id": "1", "attempt": a, "start": t0 + timedelta(seconds=a - 1),
            "end": t0 + timedelta(seconds=a - 0.9), "error": "429" if a < 3 else None} for a in (1, 2, 3)]
    assert _bars(timeline(df, attempts=log)) == _bars(timeline(df)) + 3
    assert _bars(timeline(df, attempts=pd.DataFrame(log))) == _bars(timeline(df)) + 3


def test_marks_draw_vertical_lines(sink_history):
    df = to_frame(sink_history)
    fig = timeline(df, marks={"worker killed": df["time"].iloc[5].timestamp()})
    lines = [l for l in fig.axes[0].get_lines() if len(set(l.get_xdata())) == 1 and len(l.get_xdata()) == 2]
    assert len(lines) == 1 and abs(lines[0].get_xdata()[0] - df["t"].iloc[5]) < 1e-3


def test_many_activities_collapse_into_lanes_per_type(sink_history):
    df = to_frame(sink_history)
    big = pd.concat([df] * 15, ignore_index=True)
    big["ref"] = big.index  # every row its own span
    big["lane"] = [f"{l}-{i}" if "#" in l else l for i, l in zip(big.index, big["lane"])]
    assert len(_lanes(timeline(big, max_lanes=100))) > 10
    fig = timeline(big, max_lanes=10)
    assert len(_lanes(fig)) <= 10


def test_growth_plots_events_and_bytes(sink_history):
    df = to_frame(sink_history)
    fig = growth([df, df])
    events_ax, bytes_ax = fig.axes
    assert len(events_ax.get_lines()) == 2
    assert events_ax.get_lines()[0].get_ydata()[-1] == len(df)
    assert abs(bytes_ax.get_lines()[0].get_ydata()[-1] - df["event_bytes"].sum() / 1024) < 1e-9
    assert fig._repr_png_().startswith(b"\x89PNG")


def _pending_frame():
    """The lesson-02 history cut at ActivityTaskScheduled, plus describe()'s view of the activity, 6 s in."""
    import json

    from temporalio.api.enums.v1 import PendingActivityState
    from temporalio.api.failure.v1 import Failure
    from temporalio.api.workflow.v1 import PendingActivityInfo

    from lab_support.history import LabHistory

    from .conftest import HISTORIES

    raw = json.loads((HISTORIES / "retries_ask_model.json").read_text())["events"][:5]
    t0 = pd.Timestamp(raw[0]["eventTime"]).floor("us")
    info = PendingActivityInfo(activity_id="1", attempt=3, state=PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED,
                               last_failure=Failure(message="model unavailable: 503"))
    info.next_attempt_schedule_time.FromDatetime((t0 + timedelta(seconds=8)).to_pydatetime())
    history = LabHistory("w", raw=raw, pending=[info], now=(t0 + timedelta(seconds=6)).to_pydatetime())
    return to_frame(history)


def test_pending_activity_row_carries_describe_facts():
    df = _pending_frame()
    row = df.iloc[-1]
    assert len(df) == 6 and row["type"] == "PendingActivity" and pd.isna(row["event_id"])
    assert (row["lane"], row["ref"], row["attempt"], row["state"]) == ("ask_model #1", 5, 3, "scheduled")
    assert row["failure"] == "model unavailable: 503" and row["t"] == pytest.approx(6.0, abs=1e-3)
    assert (row["next_attempt"] - row["time"]).total_seconds() == pytest.approx(2.0, abs=1e-3)
    assert list(df.columns[-3:]) == ["state", "last_started", "next_attempt"]


def test_timeline_of_a_running_workflow_reaches_now_and_labels_the_pending_attempt():
    df = _pending_frame()
    fig = timeline(df)
    ax = fig.axes[0]
    notes = [t.get_text() for t in ax.texts]
    assert "pending (describe): attempt 3 starts in 2.0 s · last: model unavailable: 503" in notes
    assert ax.get_xlim()[1] >= 8.0  # now (6 s) and the next attempt (8 s) are on the axis
    assert fig.axes[0].get_title().endswith(": 5 events")
    plain = timeline(df[df["type"] != "PendingActivity"].drop(columns=["state", "last_started", "next_attempt"]))
    assert plain.axes[0].get_xlim()[1] >= 6.0  # df.attrs["now"] alone still extends the axis


def _legend(fig) -> list[str]:
    return [t.get_text() for legend in fig.legends for t in legend.get_texts()]


def test_legend_lists_only_what_is_drawn(sink_history):
    df = to_frame(sink_history)
    full = _legend(timeline(df))
    assert {"workflow task", "completed", "timer", "child workflow", "retrying"} <= set(full), full
    assert "signal" in full if (df["category"] == "signal").any() else "signal" not in full
    # only the first two events: one workflow task scheduled, nothing closed -> no bars, no kinds to explain
    early = _legend(timeline(df.head(4)))
    assert "workflow task" in early
    assert not {"timer", "child workflow", "retrying", "failed", "signal", "update"} & set(early), early


def test_close_marks_do_not_overlap(sink_history):
    df = to_frame(sink_history)
    t0 = df["time"].iloc[0].timestamp()
    fig = timeline(df, marks={"worker SIGKILL": t0 + 1.0, "worker restarted": t0 + 1.05, "later": t0 + 3.0})
    labels = {t.get_text().strip(): t.xy[1] for t in fig.axes[0].texts if t.get_text().strip() in
              ("worker SIGKILL", "worker restarted", "later")}
    assert labels["worker SIGKILL"] != labels["worker restarted"], "two close marks share a line"
    assert labels["worker SIGKILL"] == labels["later"], "marks far apart stay on the top line"


def test_a_mark_near_the_right_edge_keeps_its_label_inside_the_plot(sink_history):
    """A live panel's newest fault is drawn at the right edge: its label goes left of the line, not off the figure."""
    df = to_frame(sink_history)
    fig = timeline(df, marks={"worker SIGKILL": df["time"].iloc[-1].timestamp()})
    fig.draw_without_rendering()  # lays out the figure
    ax = fig.axes[0]
    label = next(t for t in ax.texts if t.get_text().strip() == "worker SIGKILL")
    assert label.get_window_extent().x1 <= ax.get_window_extent().x1 + 1  # display pixels


def test_a_restart_soon_after_a_kill_near_the_edge_does_not_cover_its_label(sink_history):
    """The live chaos panel a few seconds after Restart followed Kill: the two newest marks near the right edge."""
    df = to_frame(sink_history)
    t0, t_end = df["time"].iloc[0].timestamp(), df["time"].iloc[-1].timestamp()
    fig = timeline(df, marks={"worker SIGKILL (pid 12345)": t0 + 0.78 * (t_end - t0),
                              "worker restart (pid 12399)": t0 + 0.92 * (t_end - t0)})
    fig.draw_without_rendering()
    kill, restart = (next(t for t in fig.axes[0].texts if t.get_text().strip().startswith(word))
                     for word in ("worker SIGKILL", "worker restart"))
    assert not kill.get_window_extent().overlaps(restart.get_window_extent())



def test_a_pending_note_near_the_right_edge_stays_inside_the_plot():
    """A live panel just after an activity was scheduled: describe()'s note for it starts at the right edge."""
    import json

    from temporalio.api.enums.v1 import PendingActivityState
    from temporalio.api.workflow.v1 import PendingActivityInfo

    from lab_support.history import LabHistory

    from .conftest import HISTORIES

    raw = json.loads((HISTORIES / "retries_ask_model.json").read_text())["events"][:5]  # ends ActivityTaskScheduled
    scheduled = pd.Timestamp(raw[-1]["eventTime"]).floor("us")
    info = PendingActivityInfo(activity_id="1", attempt=1, state=PendingActivityState.PENDING_ACTIVITY_STATE_STARTED)
    info.last_started_time.FromDatetime((scheduled + timedelta(microseconds=500)).to_pydatetime())
    df = to_frame(LabHistory("w", raw=raw, pending=[info], now=(scheduled + timedelta(microseconds=1500)).to_pydatetime()))
    fig = timeline(df)
    fig.draw_without_rendering()
    ax = fig.axes[0]
    note = next(t for t in ax.texts if t.get_text().startswith("pending (describe)"))
    assert note.get_window_extent().x1 <= ax.get_window_extent().x1 + 1  # display pixels
