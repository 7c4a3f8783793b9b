"""The client side of a chat session: send a message with update-with-start, read the model's request log."""

from __future__ import annotations

import uuid
from typing import Any

import pandas as pd
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy

from lab_support.llm import Model
from lab_support.server import LabError

from .workflows import ChatSession, Reply, Session, UserMessage


async def say(client: Client, session: str | Session, text: str, task_queue: str,
              message_id: str | None = None) -> Reply:
    """Send one user message to session `session` (started if it does not exist yet); returns the reply.

    The message id is the update id: calling again with the same id (a client retry) gets the same
    reply without a second model call. Raises `WorkflowUpdateFailedError` if the session failed or ended.
    """
    start = session if isinstance(session, Session) else Session(session_id=session)
    operation = WithStartWorkflowOperation(
        ChatSession.run, start, id=start.session_id, task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,  # the session exists? just send the message
    )
    message = UserMessage(message_id or f"msg-{uuid.uuid4().hex[:12]}", text)
    return await client.execute_update_with_start_workflow(ChatSession.send, message, id=message.id,
                                                           start_workflow_operation=operation)


def sent_contexts(model: Model) -> pd.DataFrame:
    """The local model's request log, one row per chat request: what context it was sent (messages, last user text).

    Columns: seq, status, completed, stream, fingerprint (same context -> same value), messages, last_user,
    system (first 60 characters). Raises `LabError` for a real model (it has no log we can read).
    """
    if model.fake is None:
        raise LabError("Only the local model keeps a request log. Fix: use start_model(fake=True).")
    rows: list[dict[str, Any]] = []
    for r in model.fake.state.journal.records():
        if not r.path.endswith("/chat/completions"):
            continue
        messages = (r.body or {}).get("messages") or []
        users = [m.get("content", "") for m in messages if m.get("role") == "user"]
        rows.append({"seq": r.seq, "status": r.status, "completed": r.completed, "stream": r.stream,
                     "fingerprint": r.fingerprint, "messages": len(messages), "last_user": users[-1] if users else "",
                     "system": (messages[0].get("content", "") if messages else "")[:60],
                     "start": r.started_at, "end": r.ended_at})
    return pd.DataFrame(rows, columns=["seq", "status", "completed", "stream", "fingerprint", "messages",
                                       "last_user", "system", "start", "end"])


def pace(model: Model, chunk_delay_ms: int) -> None:
    """Make the local model stream slowly: `chunk_delay_ms` between streamed chunks (0 = as fast as it can)."""
    from llmock.chaos import StreamChaos

    if model.fake is not None:
        model.fake.state.stream_chaos = StreamChaos(chunk_delay_ms=chunk_delay_ms)


def break_stream(model: Model, after_chunks: int) -> None:
    """The local model's next streamed reply drops its connection after `after_chunks` chunks."""
    from llmock.scenarios import StreamFault

    model._queue(StreamFault("disconnect", after_chunks=after_chunks))


async def follow(client: Client, session_id: str, turns: int = 1, from_offset: int = 0,
                 show: Any = None) -> list[tuple[int, dict[str, Any]]]:
    """Subscribe to a session's token stream from `from_offset` until `turns` turns are done.

    Returns [(offset, item), ...]; calls `show(offset, item)` for each item as it arrives (e.g. to redraw).
    """
    from datetime import timedelta

    from temporalio.contrib.workflow_streams import WorkflowStreamClient

    from .activities import TOKENS

    import asyncio

    from temporalio.service import RPCError, RPCStatusCode

    for _ in range(100):  # the first message may still be starting the session
        try:
            await client.get_workflow_handle(session_id).describe()
            break
        except RPCError as e:
            if e.status != RPCStatusCode.NOT_FOUND:
                raise
            await asyncio.sleep(0.05)
    items: list[tuple[int, dict[str, Any]]] = []
    done = 0
    stream = WorkflowStreamClient.create(client, session_id)
    async for item in stream.subscribe(TOKENS, from_offset=from_offset, poll_cooldown=timedelta(milliseconds=20)):
        items.append((item.offset, item.data))
        if show is not None:
            show(item.offset, item.data)
        done += bool(item.data.get("done"))
        if done >= turns:
            break
    return items
