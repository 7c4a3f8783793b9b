"""history: JSON in every format -> one DataFrame row per event, with the right names and attempts."""

from __future__ import annotations

import json

import pytest

from lab_support.history import COLUMNS, load_history, save_history, to_frame
from lab_support.server import LabError

from .conftest import HISTORIES


def test_one_row_per_event_with_all_columns(sink_history):
    df = to_frame(sink_history)
    assert list(df.columns) == COLUMNS
    assert len(df) == len(sink_history.events)
    assert list(df["event_id"]) == list(range(1, len(df) + 1))
    assert df["t"].is_monotonic_increasing and df["t"].iloc[0] == 0


def test_categories_and_lanes(sink_history):
    df = to_frame(sink_history)
    assert {"workflow", "workflow task", "activity", "timer", "signal", "update", "child", "marker"} <= set(df["category"])
    assert set(df.loc[df["category"] == "activity", "lane"]) == {"flaky #1", "steady #2"}
    assert set(df.loc[df["category"] == "timer", "type"]) == {"TimerStarted", "TimerFired"}
    assert df.loc[df["category"] == "child", "lane"].nunique() == 1
    assert df.loc[df["type"] == "WorkflowExecutionSignaled", "name"].item() == "signal approve"
    assert set(df.loc[df["category"] == "update", "name"]) == {"update edit"}
    assert df.loc[df["type"] == "MarkerRecorded", "name"].item() == "patch add-timer"


def test_retries_are_one_started_event_with_final_attempt_and_last_failure(sink_history):
    df = to_frame(sink_history)
    flaky = df[df["lane"] == "flaky #1"]
    assert list(flaky["type"]) == ["ActivityTaskScheduled", "ActivityTaskStarted", "ActivityTaskCompleted"]
    started = flaky[flaky["type"] == "ActivityTaskStarted"].iloc[0]
    assert started["attempt"] == 3
    assert started["failure"] == "model overloaded (attempt 2)"


def test_payload_bytes_count_inputs_and_results(sink_history):
    df = to_frame(sink_history)
    scheduled = df[(df["type"] == "ActivityTaskScheduled") & (df["lane"] == "flaky #1")].iloc[0]
    assert scheduled["payload_bytes"] > len('"research"')
    assert (df["event_bytes"] >= df["payload_bytes"]).all()
    assert df.loc[df["type"] == "WorkflowTaskScheduled", "payload_bytes"].eq(0).all()


def test_cli_export_gives_the_same_frame(sink_history):
    ours = to_frame(sink_history)
    cli = to_frame(load_history(HISTORIES / "kitchen_sink.cli.json"))
    assert ours.drop(columns=["event_bytes"]).equals(cli.drop(columns=["event_bytes"]))


def test_save_load_round_trip(sink_history, tmp_path):
    path = save_history(sink_history, tmp_path / "h.json")
    again = load_history(path)
    assert again.workflow_id == "h"
    assert to_frame(again).equals(to_frame(sink_history))
    assert to_frame(load_history(json.loads(path.read_text()))).equals(to_frame(sink_history))


@pytest.mark.parametrize("content, words", [
    (None, "No history file"),
    ("{not json", "not valid JSON"),
    ('{"hello": 1}', "not a Temporal history"),
    ('{"events": [{"eventId": "x", "eventType": 12345678}]}', "malformed"),
])
def test_broken_history_files_get_a_clear_error(tmp_path, content, words):
    path = tmp_path / "broken.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(LabError, match=words) as err:
        load_history(path)
    assert "Fix:" in str(err.value)


async def test_unknown_workflow_id_is_a_clear_error(lab):
    from lab_support.history import fetch_history

    with pytest.raises(LabError, match="No workflow with id 'no-such-workflow'"):
        await fetch_history(lab, "no-such-workflow")
