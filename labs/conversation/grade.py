"""Check for exercise 14: a real session streams two replies; the first breaks mid-stream and is retried."""

from __future__ import annotations

import uuid
from datetime import timedelta
from types import ModuleType
from typing import Any

from temporalio.client import Client
from temporalio.contrib.workflow_streams import WorkflowStreamClient
from temporalio.worker import Worker

from lab_support.exercises import NotAttempted, Verdict, not_attempted, not_yet, passed
from lab_support.llm import start_model
from lab_support.workers import build_id

from .activities import TOKENS, activities
from .session import break_stream, say
from .workflows import ChatSession, Session

FIRST = "Check the hanger alignment first: a bent hanger makes the chain skip on the small cogs."
SECOND = "Then look at the cable tension with the barrel adjuster."
HINTS = [
    "Keep the newest attempt per turn in `self.attempts`; when an item's `attempt` is higher, "
    "set `self.replies[turn] = \"\"` before appending.",
    "Items arrive in offset order, so within one attempt appending `item[\"text\"]` is right.",
]


async def stream_items(client: Client, session_id: str, turns: int) -> list[dict[str, Any]]:
    """Every stream item of a session until `turns` turns are done (the raw material a viewer gets)."""
    items: list[dict[str, Any]] = []
    done = 0
    stream = WorkflowStreamClient.create(client, session_id)
    async for item in stream.subscribe(TOKENS, poll_cooldown=timedelta(milliseconds=20)):
        items.append(item.data)
        done += bool(item.data.get("done"))
        if done == turns:
            return items
    return items


async def grade(client: Client, module: ModuleType) -> Verdict:
    """Feed the real stream of a retried reply and a clean one to the learner's `ReplyView`."""
    model = start_model(fake=True)
    model.say(FIRST, times=2)  # the broken attempt and its retry get the same reply
    break_stream(model, after_chunks=5)
    model.say(SECOND)
    task_queue = f"check-conversation-{uuid.uuid4().hex[:8]}"
    session = Session(f"check-chat-{uuid.uuid4().hex[:8]}", stream=True)
    try:
        async with Worker(client, task_queue=task_queue, build_id=build_id(__file__), workflows=[ChatSession],
                          activities=activities(model.base_url, model.name, True),
                          max_heartbeat_throttle_interval=timedelta(milliseconds=300)):
            replies = [await say(client, session, "My chain skips.", task_queue),
                       await say(client, session, "What next?", task_queue)]
            items = await stream_items(client, session.session_id, turns=2)
            await client.get_workflow_handle(session.session_id).terminate("check finished")
    finally:
        model.stop()
    attempts = {i["attempt"] for i in items if i.get("turn") == 1 and "attempt" in i}
    if attempts != {1, 2}:  # the check itself must have produced a retried stream
        return not_yet(f"The check's stream had attempts {sorted(attempts)}, expected 1 and 2; run it again.")
    view = module.ReplyView()
    try:
        for item in items:
            view.add(dict(item))
    except NotAttempted:
        return not_attempted("conversation")
    shown = {turn: view.replies.get(turn, "") for turn in (1, 2)}
    expected = {r.turn: r.text for r in replies}
    if shown[1] != expected[1]:
        return not_yet(f"Turn 1 (streamed twice: its first attempt broke) shows {shown[1][:90]!r}..., "
                       f"not the reply {expected[1][:60]!r}...", HINTS[0])
    if shown[2] != expected[2]:
        return not_yet(f"Turn 2 shows {shown[2]!r}, not {expected[2]!r}.", HINTS[1])
    return passed("Both replies are shown once, exactly as the session recorded them - including the one "
                  "whose model call was retried mid-stream.")
