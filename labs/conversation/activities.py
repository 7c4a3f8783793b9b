"""The session's model calls, as activities: a chat turn (optionally streamed token by token) and a summary."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import activity

from lab_support.llm import client
from labs.retries.activities import classify_error

TOKENS = "tokens"  # the stream topic the chat activity publishes to


@dataclass
class ChatRequest:
    messages: list[dict[str, str]]  # the whole context: system prompt (with summary), then the turns
    turn: int
    stream: bool = False


SUMMARY_PROMPT = ("Summarise the conversation below for your own memory in at most 60 words: keep names, "
                  "numbers, decisions and open questions; drop pleasantries.")


class ChatActivities:
    """Activities bound to one model endpoint (the local model, OpenAI, or any compatible server)."""

    def __init__(self, model_url: str | None, model_name: str, model_offline: bool) -> None:
        self.model = client(model_url, model_offline)
        self.model_name = model_name

    async def _complete(self, messages: list[dict[str, str]]) -> str:
        """One chat completion, heartbeating while it waits, so a cancel or a crash is noticed at once."""
        call = asyncio.ensure_future(self.model.chat.completions.create(model=self.model_name, messages=messages))
        try:
            while not call.done():
                activity.heartbeat()
                await asyncio.wait({call}, timeout=0.2)
            reply = call.result()
        except asyncio.CancelledError:
            call.cancel()  # the workflow cancelled this turn: close the HTTP request too
            raise
        except Exception as e:  # noqa: BLE001 - classified as in lesson 02
            raise classify_error(e) from e
        return reply.choices[0].message.content or ""

    async def _stream(self, request: ChatRequest) -> str:
        """A streamed completion: every piece is published to the session's workflow stream as it arrives."""
        from temporalio.contrib.workflow_streams import WorkflowStreamClient

        attempt = activity.info().attempt
        parts: list[str] = []
        publisher = WorkflowStreamClient.from_within_activity(batch_interval=timedelta(milliseconds=50))
        tokens = publisher.topic(TOKENS)
        async with publisher:  # flushes what was published, even when the stream breaks
            try:
                stream = await self.model.chat.completions.create(model=self.model_name, messages=request.messages,
                                                                  stream=True)
                async for chunk in stream:
                    activity.heartbeat()
                    piece = chunk.choices[0].delta.content if chunk.choices else None
                    if piece:
                        parts.append(piece)
                        tokens.publish({"turn": request.turn, "attempt": attempt, "text": piece})
            except asyncio.CancelledError:
                raise
            except Exception as e:  # noqa: BLE001
                raise classify_error(e) from e
        return "".join(parts)

    @activity.defn(name="chat")
    async def chat(self, request: ChatRequest) -> str:
        """One assistant reply to the whole context; streamed to the workflow if `request.stream`."""
        if request.stream:
            return await self._stream(request)
        return await self._complete(request.messages)

    @activity.defn(name="summarise")
    async def summarise(self, transcript: str) -> str:
        """A short summary of older turns (text in, text out), written by the model."""
        return await self._complete([{"role": "system", "content": SUMMARY_PROMPT},
                                     {"role": "user", "content": transcript}])


def activities(model_url: str | None, model_name: str, model_offline: bool) -> list[Any]:
    """The activity callables of this lesson, bound to one model endpoint."""
    acts = ChatActivities(model_url, model_name, model_offline)
    return [acts.chat, acts.summarise]
