"""The agent's model call and tools, as activities. Each records itself in the ledger."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity

from lab_support.ledger import Ledger
from lab_support.llm import client
from labs.retries.activities import classify_error

TOOL_SCHEMAS: list[dict[str, Any]] = [
    {"type": "function", "function": {
        "name": "search_web", "description": "Search the web; returns the titles of matching pages.",
        "parameters": {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]}}},
    {"type": "function", "function": {
        "name": "read_page", "description": "Read one page and return its key points.",
        "parameters": {"type": "object", "properties": {"url": {"type": "string"}}, "required": ["url"]}}},
]
TOOL_SECONDS = {"search_web": 0.3, "read_page": 1.5}


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, exactly as the model wrote it


@dataclass
class ModelReply:
    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)


class AgentActivities:
    """Activities bound to one model endpoint and one ledger."""

    def __init__(self, model_url: str | None, model_name: str, model_offline: bool, ledger: str) -> None:
        self.model = client(model_url, model_offline)
        self.model_name, self.ledger = model_name, Ledger(ledger)

    @activity.defn(name="call_model")
    async def call_model(self, messages: list[dict[str, Any]]) -> ModelReply:
        """One chat completion with the tools offered. Errors are classified as in lesson 02."""
        info = activity.info()
        try:
            reply = await self.model.chat.completions.create(model=self.model_name, messages=messages, tools=TOOL_SCHEMAS)
        except Exception as e:  # noqa: BLE001
            raise classify_error(e) from e
        message = reply.choices[0].message
        calls = [ToolCall(c.id, c.function.name, c.function.arguments) for c in message.tool_calls or []]
        self.ledger.record("model", len(messages), "call_model", key=info.workflow_id, attempt=info.attempt)
        return ModelReply(message.content, calls)

    async def _work(self, name: str, seconds: float) -> float:
        started = time.time()
        while time.time() < started + seconds:  # heartbeat while working, so a crash is noticed fast
            activity.heartbeat()
            await asyncio.sleep(0.1)
        return started

    @activity.defn(name="search_web")
    async def search_web(self, query: str) -> str:
        """A search tool (a real one would call a search API)."""
        info = activity.info()
        started = await self._work("search_web", TOOL_SECONDS["search_web"])
        self.ledger.record("tool", 0, "search_web", key=info.workflow_id, attempt=info.attempt, started=started)
        return f"Results for {query!r}: 'Durable Execution explained', 'Temporal for AI agents', 'Sagas 101'"

    @activity.defn(name="read_page")
    async def read_page(self, url: str) -> str:
        """A slow page reader (a real one would fetch and summarise)."""
        info = activity.info()
        started = await self._work("read_page", TOOL_SECONDS["read_page"])
        self.ledger.record("tool", 0, "read_page", key=info.workflow_id, attempt=info.attempt, started=started)
        return f"Key points of {url}: workflows replay from history; activities retry; state survives crashes."
