"""Lesson 14: chat sessions as workflows - update-with-start, crashes, streaming, interrupts, the history budget."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import timedelta

import pytest
from llmock.scenarios import Delay, Match
from temporalio.contrib.workflow_streams import PollInput, PollResult, WorkflowStreamClient
from temporalio.worker import Worker

from lab_support.exercises import check
from lab_support.history import fetch_history, fetch_runs, to_frame
from lab_support.llm import start_model
from lab_support.server import start_dev_server
from lab_support.workers import SubprocessWorker, build_id, wait_running
from labs.conversation.activities import TOKENS, activities
from labs.conversation.budget import LIMIT_BYTES, LIMITS, long_session, turn_bytes
from labs.conversation.privacy import CodecServer, EncryptionCodec, database_contains, encrypted_converter, post
from labs.conversation.session import break_stream, say, sent_contexts
from labs.conversation.storage import claim_check_converter, with_converter
from labs.conversation.workflows import INTERRUPTED, ChatSession, Session

THROTTLE = {"max_heartbeat_throttle_interval": timedelta(milliseconds=300)}


@pytest.fixture
def model():
    m = start_model(fake=True)
    yield m
    m.stop()


def _worker(client, model, task_queue):
    return Worker(client, task_queue=task_queue, build_id=build_id(__file__), workflows=[ChatSession],
                  activities=activities(model.base_url, model.name, True), **THROTTLE)


def _ids():
    return f"chat-{uuid.uuid4().hex[:8]}", f"conv-{uuid.uuid4().hex[:8]}"


async def test_update_with_start_creates_the_session_once_and_a_retried_message_is_answered_once(lab, model):
    session_id, tq = _ids()
    async with _worker(lab.client, model, tq):
        first = await say(lab.client, session_id, "Hello", tq)
        run_id = (await lab.client.get_workflow_handle(session_id).describe()).run_id
        reply = await say(lab.client, session_id, "My chain slips.", tq, message_id="m-2")
        retried = await say(lab.client, session_id, "My chain slips.", tq, message_id="m-2")  # a client retry
        assert (await lab.client.get_workflow_handle(session_id).describe()).run_id == run_id, "no second session"
        transcript = await lab.client.get_workflow_handle(session_id).query(ChatSession.transcript)
    events = to_frame(await fetch_history(lab.client.get_workflow_handle(session_id)))
    assert (first.turn, reply.turn) == (1, 2) and retried == reply
    assert (events["type"] == "WorkflowExecutionStarted").sum() == 1
    assert (events["type"] == "WorkflowExecutionUpdateAccepted").sum() == 2, "the retried update was deduplicated"
    assert len(sent_contexts(model)) == 2, "the model answered each message once"
    assert [m["role"] for m in transcript] == ["system", "user", "assistant", "user", "assistant"]


async def test_worker_killed_between_and_during_turns_keeps_the_conversation(lab, model):
    worker = SubprocessWorker(lab, "labs.conversation.worker", **model.worker_config()).start()
    session_id = f"chat-{uuid.uuid4().hex[:8]}"
    try:
        await say(lab.client, session_id, "turn one", worker.task_queue)
        worker.kill()  # between turns
        worker.restart()
        await say(lab.client, session_id, "turn two", worker.task_queue)
        model.slow(1.5)
        during = asyncio.ensure_future(say(lab.client, session_id, "turn three", worker.task_queue))
        await wait_running(lab.client.get_workflow_handle(session_id), "chat", nth=3)
        worker.kill()  # during turn three's model call
        worker.restart()
        third = await asyncio.wait_for(during, 60)
        transcript = await lab.client.get_workflow_handle(session_id).query(ChatSession.transcript)
    finally:
        worker.stop()
    sent = sent_contexts(model)
    assert third.turn == 3 and len(transcript) == 7
    assert list(sent["last_user"].drop_duplicates()) == ["turn one", "turn two", "turn three"]
    assert list(sent["messages"].drop_duplicates()) == [2, 4, 6], "each turn got the full context"
    repeats = sent["fingerprint"].value_counts()
    assert repeats.max() <= 2 and list(sent[sent["fingerprint"].isin(repeats[repeats > 1].index)]["last_user"].unique()) in (
        [], ["turn three"]), "only the call in flight at the kill may be sent again, with the same context"


async def test_streaming_reconnect_from_an_offset_misses_nothing_and_a_retry_streams_again(lab, model):
    session_id, tq = _ids()
    session = Session(session_id, stream=True)
    model.say("Check the hanger alignment first, then the cable.", times=2)
    break_stream(model, after_chunks=4)
    async with _worker(lab.client, model, tq):
        reply = await say(lab.client, session, "My chain skips.", tq)
        stream = WorkflowStreamClient.create(lab.client, session_id)

        async def read(offset):
            out = []
            async for item in stream.subscribe(TOKENS, from_offset=offset, poll_cooldown=timedelta(milliseconds=20)):
                out.append((item.offset, item.data))
                if item.data.get("done"):
                    return out
        everything = await read(0)
        resumed = await read(5)
        await lab.client.get_workflow_handle(session_id).terminate("test done")
    assert resumed == everything[5:], "a subscriber reconnecting at offset 5 gets exactly the rest"
    assert [o for o, _ in everything] == list(range(len(everything)))
    pieces = [d for _, d in everything if "attempt" in d]
    assert {d["attempt"] for d in pieces} == {1, 2}, "the broken stream was retried and published again"
    assert "".join(d["text"] for d in pieces if d["attempt"] == 2) == reply.text


async def test_a_new_message_interrupts_the_model_call_in_flight(lab, model):
    session_id, tq = _ids()
    async with _worker(lab.client, model, tq):
        await say(lab.client, session_id, "hello", tq)
        model.slow(6)
        slow = asyncio.ensure_future(say(lab.client, session_id, "write a long essay", tq))
        await wait_running(lab.client.get_workflow_handle(session_id), "chat", nth=2)
        second = await say(lab.client, session_id, "no, just the short answer", tq)
        first = await asyncio.wait_for(slow, 10)
    events = to_frame(await fetch_history(lab.client.get_workflow_handle(session_id)))
    assert first.interrupted and first.text == INTERRUPTED and not second.interrupted
    assert (events["type"] == "ActivityTaskCancelRequested").sum() == 1
    assert (events["type"] == "ActivityTaskCanceled").sum() == 1
    answered = sent_contexts(model).query("last_user == 'no, just the short answer'").iloc[0]
    assert answered["messages"] == 5, "the new message is answered with the interrupted one in context"


async def test_no_message_is_lost_across_continue_as_new_hand_overs(lab, model):
    session_id, tq = _ids()
    session = Session(session_id, memory="summary", summarise_after=3, keep_turns=1, interrupt=False, stream=True,
                      stream_keep=4)
    # Only the summary call is slow (chat turns stream, the summary does not): messages arrive during the hand-over.
    model.fake.state.scenarios.add(Delay(1.5, match=Match(stream=False)))
    async with _worker(lab.client, model, tq):
        for i in range(3):
            await say(lab.client, session, f"before {i}", tq)
        await wait_running(lab.client.get_workflow_handle(session_id), "summarise")
        replies = await asyncio.gather(*(say(lab.client, session, f"during {i}", tq) for i in range(6)))
        status = await lab.client.get_workflow_handle(session_id).query(ChatSession.status)
        retained = await lab.client.get_workflow_handle(session_id).query(
            "__temporal_workflow_stream_poll", PollInput(from_offset=0), result_type=PollResult)
    assert sorted(r.turn for r in replies) == list(range(4, 10)), "every message sent during it answered once"
    assert retained.items and retained.items[0].offset > 0, "the stream was truncated at the hand-over"
    assert retained.items[-1].offset == retained.next_offset - 1, "offsets stay global across runs"
    assert not any(r.interrupted for r in replies)
    assert status.turns == 9 and status.run >= 2 and status.summaries == status.run - 1
    sent = sent_contexts(model)
    first = to_frame((await fetch_runs(lab.client, session_id))[0])
    scheduled = first[first["type"] == "ActivityTaskScheduled"]
    summary_at = scheduled.index[scheduled["name"].str.startswith("summarise")][0]
    accepted_after = first.loc[summary_at:]["type"].eq("WorkflowExecutionUpdateAccepted").sum()
    assert accepted_after >= 1 and first["type"].iloc[-1] == "WorkflowExecutionContinuedAsNew", \
        "messages were accepted during the hand-over and answered before the run continued as new"
    chats = sent[sent["system"].str.startswith("You are")]
    assert sorted(chats["last_user"]) == sorted([f"before {i}" for i in range(3)] + [f"during {i}" for i in range(6)])


@pytest.fixture(scope="module")
async def limited(tmp_path_factory):
    db = tmp_path_factory.mktemp("budget") / "temporal.db"
    lab = await start_dev_server(ui=False, dynamic_config=LIMITS, db_file=db)
    yield lab, db
    await lab.close()


TURNS = 16


async def test_budget_naive_session_is_terminated_by_the_history_limit(limited, model):
    lab, _ = limited
    tq = f"conv-{uuid.uuid4().hex[:8]}"
    session = Session(f"naive-{uuid.uuid4().hex[:8]}")
    async with _worker(lab.client, model, tq):
        result = await long_session(lab.client, session, TURNS, tq)
    frame = await turn_bytes(lab.client, session.session_id, result["first_run_id"])
    assert result["error"] and result["answered"] < TURNS
    assert frame["status"].iloc[-1] == "terminated" and frame["run_bytes"].iloc[-2] < LIMIT_BYTES
    assert frame["bytes"].is_monotonic_increasing, "each turn records the whole, growing conversation again"


async def test_budget_summary_keeps_every_run_small(limited, model):
    lab, _ = limited
    tq = f"conv-{uuid.uuid4().hex[:8]}"
    session = Session(f"summary-{uuid.uuid4().hex[:8]}", memory="summary")
    async with _worker(lab.client, model, tq):
        result = await long_session(lab.client, session, TURNS, tq)
    frame = await turn_bytes(lab.client, session.session_id, result["first_run_id"])
    assert result == {**result, "answered": TURNS, "error": None}
    assert frame["run"].max() >= 2 and frame["run_bytes"].max() < 0.75 * LIMIT_BYTES, "every run stays well under the limit"


async def test_budget_claim_check_keeps_per_turn_bytes_flat(limited, model, tmp_path):
    lab, _ = limited
    client = with_converter(lab.client, claim_check_converter(tmp_path / "claims"))
    tq = f"conv-{uuid.uuid4().hex[:8]}"
    session = Session(f"claims-{uuid.uuid4().hex[:8]}")
    async with _worker(client, model, tq):
        result = await long_session(client, session, TURNS, tq)
        transcript = await client.get_workflow_handle(session.session_id).query(ChatSession.transcript)
    frame = await turn_bytes(client, session.session_id, result["first_run_id"])
    assert result["answered"] == TURNS and frame["run"].max() == 1
    assert frame["bytes"].iloc[1:].max() < 5 * 1024, "only a reference to the context is recorded per turn"
    assert len(transcript) == 2 * TURNS + 1, "the query result comes back whole through the claim check"
    assert len(list((tmp_path / "claims").glob("*.bin"))) >= TURNS - 1


async def test_codec_round_trip_and_codec_server():
    from temporalio.api.common.v1 import Payload

    codec = EncryptionCodec(os.urandom(32))
    plain = Payload(metadata={"encoding": b"json/plain"}, data=b'"purple elephant"')
    encrypted = await codec.encode([plain])
    assert b"purple" not in encrypted[0].SerializeToString()
    assert await codec.decode(encrypted) == [plain]
    with pytest.raises(Exception):
        await EncryptionCodec(os.urandom(32)).decode(encrypted)  # a wrong key cannot read it
    with CodecServer(codec) as server:
        assert post(f"{server.url}/decode", encrypted) == [plain]
        assert post(f"{server.url}/decode", post(f"{server.url}/encode", [plain])) == [plain]


async def test_the_database_holds_only_ciphertext(limited, model):
    lab, db = limited
    codec = EncryptionCodec(os.urandom(32))
    secret, control = f"purple-elephant-{uuid.uuid4().hex[:6]}", f"orange-giraffe-{uuid.uuid4().hex[:6]}"
    encrypted = with_converter(lab.client, encrypted_converter(codec))
    tq, plain_tq = f"conv-{uuid.uuid4().hex[:8]}", f"conv-{uuid.uuid4().hex[:8]}"
    session_id = f"private-{uuid.uuid4().hex[:8]}"
    async with _worker(encrypted, model, tq), _worker(lab.client, model, plain_tq):
        await say(encrypted, session_id, f"My code word is {secret}.", tq)
        await say(lab.client, f"plain-{uuid.uuid4().hex[:8]}", f"My code word is {control}.", plain_tq)
    assert database_contains(db, control), "the search does find plaintext (control)"
    assert not database_contains(db, secret), "the encrypted session left no plaintext in the database"
    history = await fetch_history(lab.client.get_workflow_handle(session_id))  # a client WITHOUT the key
    update = next(e for e in history.events if e.HasField("workflow_execution_update_accepted_event_attributes"))
    payload = update.workflow_execution_update_accepted_event_attributes.accepted_request.input.args.payloads[0]
    assert secret.encode() not in payload.data
    with CodecServer(codec) as server:  # what the Web UI does with --ui-codec-endpoint
        assert secret.encode() in post(f"{server.url}/decode", [payload])[0].data


async def test_grader_passes_the_solution(lab):
    assert (await check("conversation", lab, module="solution")).status == "passed"


async def test_grader_says_not_attempted_for_the_untouched_exercise(lab):
    verdict = await check("conversation", lab)
    assert verdict.status == "not attempted" and "todo(" in verdict.message


async def test_grader_catches_a_viewer_that_shows_a_retried_reply_twice(lab):
    verdict = await check("conversation", lab, module="tests.fixtures.wrong_conversation")
    assert verdict.status == "not yet" and "streamed twice" in verdict.message and "attempt" in verdict.hint
