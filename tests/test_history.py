"""history: JSON in every format -> one DataFrame row per event, with the right names and attempts."""

from __future__ import annotations

import json
import uuid

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


# -- histories from any source -------------------------------------------------------------------------------

DIALECTS = HISTORIES / "dialects"
TYPES = ["WorkflowExecutionStarted", "WorkflowTaskScheduled", "WorkflowTaskStarted", "WorkflowTaskCompleted",
         "ActivityTaskScheduled", "ActivityTaskStarted", "ActivityTaskCompleted", "WorkflowTaskScheduled",
         "WorkflowTaskStarted", "WorkflowTaskCompleted", "WorkflowExecutionCompleted"]
SAME_DATA = ["sdk_to_json.json", "pascal_short_enums.json", "bare_array.json", "list_of_histories.json",
             "api_response.json", "legacy_2020_decision_enum.json", "legacy_pascal_decision.json"]


def _reference():
    from temporalio.client import WorkflowHistory

    return to_frame(WorkflowHistory.from_json("ref", (HISTORIES / "retries_ask_model.json").read_text()))


@pytest.mark.parametrize("file", SAME_DATA + ["webui_descending.json"])
def test_every_dialect_loads_with_the_right_events_types_and_times(file):
    import pandas as pd

    df = to_frame(load_history(DIALECTS / file, "retries-golden"))
    assert list(df["type"]) == TYPES and list(df["event_id"]) == list(range(1, 12))
    assert df["time"].iloc[0] == pd.Timestamp("2026-11-26T07:31:03.349742Z")
    assert df["t"].iloc[-1] == pytest.approx(2.549212, abs=1e-6)
    started = df[df["type"] == "ActivityTaskStarted"].iloc[0]
    assert started["attempt"] == 4 and started["failure"] == "rate limited, retry after 1s"
    assert set(df.loc[df["category"] == "activity", "lane"]) == {"ask_model #1"}
    assert "Unspecified" not in set(df["type"])


@pytest.mark.parametrize("file", SAME_DATA)
def test_dialects_with_the_same_data_give_the_same_frame_as_the_sdk(file):
    df = to_frame(load_history(DIALECTS / file, "retries-golden"))
    assert df.drop(columns=["original_type"], errors="ignore").equals(_reference())  # sizes included


def test_web_ui_array_is_read_newest_first_with_decoded_payloads():
    df = to_frame(load_history(DIALECTS / "webui_descending.json"))
    ref = _reference()
    assert df.drop(columns=["payload_bytes", "event_bytes"]).equals(ref.drop(columns=["payload_bytes", "event_bytes"]))
    assert (df["payload_bytes"] > 0).sum() == (ref["payload_bytes"] > 0).sum()  # decoded payloads still counted


@pytest.mark.parametrize("file", ["legacy_2020_decision_enum.json", "legacy_pascal_decision.json"])
def test_legacy_decision_task_names_map_to_workflow_tasks_and_keep_the_original(file):
    df = to_frame(load_history(DIALECTS / file))
    tasks = df[df["category"] == "workflow task"]
    assert len(tasks) == 6
    assert list(tasks["original_type"]) == [t.replace("WorkflowTask", "DecisionTask") for t in tasks["type"]]
    assert df.loc[df["category"] != "workflow task", "original_type"].isna().all()
    assert "original_type" not in to_frame(load_history(DIALECTS / "sdk_to_json.json")).columns


@pytest.mark.parametrize("file", SAME_DATA)
async def test_dialect_histories_replay(file):
    from temporalio.worker import Replayer

    from labs.retries.workflows import AskModel

    await Replayer(workflows=[AskModel]).replay_workflow(load_history(DIALECTS / file, "retries-golden"))


def test_a_list_of_histories_is_picked_by_workflow_id_or_listed():
    assert len(load_history(DIALECTS / "list_of_histories.json", "retries-other")) == 5
    with pytest.raises(LabError, match=r"holds 2 histories.*\[0\] id retries-golden, type AskModel, 11 events.*"
                                       r"\[1\] id retries-other.*Fix:"):
        load_history(DIALECTS / "list_of_histories.json")
    with pytest.raises(LabError, match="none has workflow id 'nope'"):
        load_history(DIALECTS / "list_of_histories.json", "nope")


def test_unknown_event_type_is_kept_by_name_and_refused_for_replay():
    history = load_history(DIALECTS / "unknown_type.json")
    df = to_frame(history)
    assert df["type"].iloc[-1] == "WorkflowExecutionHibernated" and df["category"].iloc[-1] == "workflow"
    assert len(df) == 6 and "Unspecified" not in set(df["type"])
    with pytest.raises(LabError, match="event 6 has type WorkflowExecutionHibernated.*Fix:"):
        history.events


def test_web_ui_history_is_refused_for_replay_naming_the_event():
    with pytest.raises(LabError, match=r"event 1 \(WorkflowExecutionStarted\) carries payloads decoded.*Fix:"):
        load_history(DIALECTS / "webui_descending.json").events


def test_sdk_events_are_parsed_only_when_used():
    history = load_history(DIALECTS / "sdk_to_json.json")
    to_frame(history)
    assert history._events is None
    assert len(history.events) == 11 and history.events[5].activity_task_started_event_attributes.attempt == 4


@pytest.mark.parametrize("file", sorted(p.name for p in HISTORIES.glob("*.json") if not p.name.endswith(".states.json")))
def test_json_and_sdk_objects_give_identical_frames(file):
    from temporalio.client import WorkflowHistory

    sdk = to_frame(WorkflowHistory.from_json("x", (HISTORIES / file).read_text()))
    assert to_frame(load_history(HISTORIES / file)).equals(sdk)


def _events(**changes):
    events = json.loads((DIALECTS / "sdk_to_json.json").read_text())["events"][:5]
    for key, value in changes.items():
        if value is None:
            events[2].pop(key, None)
        else:
            events[2][key] = value
    return {"events": events}


@pytest.mark.parametrize("changes, words", [
    ({"eventTime": "yesterday"}, r"eventId '3' \(WorkflowTaskStarted\): unreadable eventTime 'yesterday'"),
    ({"eventTime": None}, r"eventId '3' \(WorkflowTaskStarted\): no readable time"),
    ({"eventId": "three"}, r"eventId 'three' \(WorkflowTaskStarted\): eventId 'three' is not a number"),
    ({"eventId": "2"}, "two events with eventId 2"),
    ({"eventId": "9"}, "missing events"),
    ({"workflowTaskStartedEventAttributes": "oops"}, r"eventId '3'.*workflowTaskStartedEventAttributes is 'oops'"),
    ({"eventType": None, "workflowTaskStartedEventAttributes": None}, "eventId '3': no eventType"),
])
def test_a_corrupt_event_is_a_clear_error_naming_it(changes, words):
    with pytest.raises(LabError, match=words) as err:
        to_frame(load_history(_events(**changes)))
    assert "Fix:" in str(err.value)


def test_empty_string_and_folder_are_clear_errors(tmp_path):
    with pytest.raises(LabError, match="empty string.*Fix:"):
        load_history("")
    (tmp_path / "run.json").write_text("{}")
    with pytest.raises(LabError, match=r"is a folder.*run\.json.*Fix:"):
        load_history(tmp_path)
    with pytest.raises(LabError, match="one page of a longer history"):
        load_history({"history": {"events": _events()["events"]}, "nextPageToken": "abc"})


# -- a retrying activity seen while it waits (describe) ------------------------------------------------------

async def test_pending_activity_shows_attempt_and_last_failure_while_it_waits(lab, tmp_path):
    from lab_support.history import fetch_history, wait_event
    from lab_support.ledger import Ledger
    from lab_support.llm import start_model
    from lab_support.plots import timeline
    from lab_support.workers import KernelWorker
    from labs.retries.workflows import Ask, AskModel, Policy

    model = start_model(fake=True)
    ledger = Ledger(tmp_path / "l.db")
    try:
        async with KernelWorker(lab, "labs.retries.worker", ledger=str(ledger.path), **model.worker_config()) as w:
            model.server_error(times=50).say("never")
            handle = await lab.client.start_workflow(
                AskModel.run, Ask("q", Policy(initial_interval=4.0, backoff=1.0)), id=f"pending-{uuid.uuid4().hex[:6]}",
                task_queue=w.task_queue)
            # attempt 1 failed; attempt 2 waits its turn (4 s)
            df = await wait_event(handle, "PendingActivity", attempt=2, state="scheduled", timeout=30)
            rows = df[df["type"] == "PendingActivity"]
            plain = to_frame(await fetch_history(handle))
            await handle.terminate()
    finally:
        model.stop()
    assert plain["type"].iloc[-1] == "ActivityTaskScheduled"  # all the history itself has to say
    pending = rows.iloc[0]
    assert pending["lane"] == "ask_model #1" and pd_isna(pending["event_id"])
    assert "model unavailable" in pending["failure"]
    assert pending["next_attempt"] > pending["time"] == df.attrs["now"]
    fig = timeline(df)
    notes = [t.get_text() for t in fig.axes[0].texts]
    assert any(n.startswith(f"pending (describe): attempt {pending['attempt']} starts in") and "model unavailable" in n
               for n in notes)
    t_now = (df.attrs["now"] - df["time"].iloc[0]).total_seconds()
    assert fig.axes[0].get_xlim()[1] >= t_now > plain["t"].iloc[-1]


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


@pytest.mark.parametrize("stamp", [
    {"eventTime": {"seconds": "1795678263", "nanos": 362353034}},  # a Timestamp written as an object
    {"timestamp": "1795678263362353034"},  # 2020-era nanoseconds (text)
    {"timestamp": 1795678263362353034},  # ... or a number
    {"eventTime": "2026-11-26T09:31:03.362353034+02:00"},  # RFC3339 with an offset
])
def test_event_time_is_read_from_whichever_field_the_dialect_has(stamp):
    import pandas as pd

    data = _events(eventTime=None)
    data["events"][2].update(stamp)
    df = to_frame(load_history(data))
    assert df["time"].iloc[2] == pd.Timestamp("2026-11-26T07:31:03.362353Z")


def test_history_table_shows_no_row_index_and_one_blank_for_missing(sink_history):
    df = to_frame(sink_history)
    shown = df[df["category"] == "activity"][["event_id", "type", "name", "attempt", "failure"]]
    html, text = shown._repr_html_(), repr(shown)
    for missing in ("<NA>", "NaN", "None"):
        assert missing not in html and missing not in text, missing
    assert "<th>4</th>" not in html and "<tbody>\n    <tr>\n      <th>" not in html, "a row-number index is shown"
    assert text.split("\n")[0].split() == ["event_id", "type", "name", "attempt", "failure"]
    assert df["attempt"].isna().any() and str(df["attempt"].dtype) == "Int64", "the data keep their types"
    named = repr(df.set_index("name").head(2))
    assert "KitchenSink" in named.split("\n")[2], "an index set on purpose is shown"


async def test_pending_rows_come_with_the_history_they_belong_to(lab, tmp_path):
    """fetch_history(pending=True) is two calls: if the workflow moved on between them (seen under load: a history
    that ended before the activity was scheduled, with attempt 2 already pending), both are read again."""
    from lab_support.history import fetch_history
    from lab_support.workers import KernelWorker
    from labs.why_durable.workflows import ResearchAgent, ResearchRequest

    async with KernelWorker(lab, "labs.why_durable.worker", ledger=str(tmp_path / "l.db"), step_seconds=0.0) as w:
        handle = await lab.client.start_workflow(ResearchAgent.run, ResearchRequest("t"),
                                                 id=f"snap-{uuid.uuid4().hex[:6]}", task_queue=w.task_queue)
        await handle.result()
    full = await handle.fetch_history()
    reads = []

    async def lagging_once():  # the first read is the history as it was a moment before (3 events)
        reads.append(len(reads))
        history = await type(handle).fetch_history(handle)
        if len(reads) == 1:
            del history.events[3:]
        return history

    handle.fetch_history = lagging_once
    again = await fetch_history(handle, pending=True)
    assert len(reads) == 2 and len(again.events) == len(full.events)
