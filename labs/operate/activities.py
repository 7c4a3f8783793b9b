"""The operated agent's model call and its one tool, as activities. Each side effect goes to the ledger.

`price_v1` has a bug (it reads yen as if they were cents); `price_v2` is the fix. Which one a worker
runs is its `tool_version` config: restarting the worker with `tool_version="v2"` really runs new code.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity

from lab_support.ledger import Ledger
from lab_support.llm import client
from labs.retries.activities import classify_error

# item -> (price, currency). Step k of a run prices ITEMS[k - 1].
CATALOG: dict[str, tuple[float, str]] = {
    "gpu-hour": (2.5, "USD"), "vector-db": (40.0, "USD"), "embeddings": (0.1, "USD"), "storage": (23.0, "USD"),
    "support": (99.0, "USD"), "tokyo-region": (1500.0, "JPY"), "egress": (9.0, "USD"), "backup": (5.0, "USD"),
    "monitoring": (15.0, "USD"), "dns": (1.0, "USD"),
}
ITEMS = list(CATALOG)
TO_USD = {"USD": 1.0, "JPY": 0.0066}
TOOL_SCHEMA = [{"type": "function", "function": {
    "name": "price", "description": "The monthly price of one catalogue item, in USD.",
    "parameters": {"type": "object", "properties": {"item": {"type": "string"}}, "required": ["item"]}}}]


@dataclass
class ModelReply:
    content: str | None
    tool_calls: list[dict[str, str]] = field(default_factory=list)  # [{"id", "name", "arguments"}]


def price_v1(item: str) -> float:
    """The buggy tool: treats every amount as cents of its currency (wrong for yen, which has none)."""
    amount, currency = CATALOG[item]
    if currency == "JPY":
        amount = amount * 100  # BUG: yen have no cents
    return round(amount * TO_USD[currency], 2)


def price_v2(item: str) -> float:
    """The fixed tool."""
    amount, currency = CATALOG[item]
    return round(amount * TO_USD[currency], 2)


TOOLS = {"v1": price_v1, "v2": price_v2}


class OperateActivities:
    """Activities bound to one model endpoint, one ledger and one tool version."""

    def __init__(self, model_url: str | None, model_name: str, model_offline: bool, ledger: str,
                 tool_version: str = "v1", tool_seconds: float = 0.0) -> None:
        self.model = client(model_url, model_offline, timeout=10)
        self.model_name, self.ledger = model_name, Ledger(ledger)
        self.tool_version, self.tool_seconds = tool_version, tool_seconds

    @activity.defn(name="call_model")
    async def call_model(self, step: int, messages: list[dict[str, Any]]) -> ModelReply:
        """One chat completion with the price tool offered (errors classified as in lesson 02)."""
        info = activity.info()
        try:
            reply = await self.model.chat.completions.create(model=self.model_name, messages=messages, tools=TOOL_SCHEMA)
        except Exception as e:  # noqa: BLE001
            raise classify_error(e) from e
        message = reply.choices[0].message
        calls = [{"id": c.id, "name": c.function.name, "arguments": c.function.arguments} for c in message.tool_calls or []]
        self.ledger.record("model", step, "call_model", key=info.workflow_id, attempt=info.attempt)
        return ModelReply(message.content, calls)

    @activity.defn(name="price")
    async def price(self, step: int, item: str) -> float:
        """The tool: look up a price (heartbeats while it works, so a killed worker is noticed fast)."""
        info = activity.info()
        started = time.time()
        while time.time() < started + self.tool_seconds:
            activity.heartbeat()
            await asyncio.sleep(0.05)
        value = TOOLS[self.tool_version](item)
        self.ledger.record("tool", step, f"price@{self.tool_version}", key=info.workflow_id, attempt=info.attempt,
                           started=started)
        return value
