"""The operated agent: 10 steps, each a model call then a tool call, with its state exposed to a query.

Its activities carry explicit ids `"<step>-model"` and `"<step>-tool"`, so tools (and `rerun_from(step=k)`)
can find step k in the history. Its progress is also published as search attributes (`AgentStep`,
`AgentStatus`) so `list_workflows` can find, say, every run waiting for review.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from .activities import ITEMS, ModelReply
    from .tracing import naive_span

SYSTEM = "You are a billing agent. Price each item of the bill with the `price` tool, one per step."
MODEL_CALL = {"start_to_close_timeout": timedelta(seconds=20),
              "retry_policy": RetryPolicy(initial_interval=timedelta(milliseconds=300), maximum_interval=timedelta(seconds=1))}
TOOL_CALL = {"start_to_close_timeout": timedelta(seconds=20), "heartbeat_timeout": timedelta(seconds=1),
             "retry_policy": RetryPolicy(initial_interval=timedelta(milliseconds=200), maximum_attempts=5)}
STEP = SearchAttributeKey.for_int("AgentStep")
STATUS = SearchAttributeKey.for_keyword("AgentStatus")
SEARCH_ATTRIBUTES = {"AgentStep": "Int", "AgentStatus": "Keyword"}


@dataclass
class Task:
    text: str = "Price our monthly cloud bill."
    steps: int = 10
    review_before: int | None = None  # wait for a human `review` signal before this step
    naive_spans: bool = False  # also open OpenTelemetry spans straight from workflow code (NOT replay-safe)


@dataclass
class Bill:
    total_usd: float
    lines: dict[str, float] = field(default_factory=dict)


@workflow.defn
class OperateAgent:
    def __init__(self) -> None:
        self.step = 0
        self.status = "starting"
        self.messages: list[dict[str, Any]] = []
        self.lines: dict[str, float] = {}
        self.reviewed = False

    @workflow.query
    def state(self) -> dict[str, Any]:
        """What the agent knows now: its step counter, status, conversation and priced lines."""
        return {"step": self.step, "status": self.status, "conversation": self.messages, "lines": self.lines}

    @workflow.signal
    def review(self) -> None:
        """A human has looked at the run: carry on."""
        self.reviewed = True

    def _set(self, status: str) -> None:
        self.status = status
        workflow.upsert_search_attributes([STEP.value_set(self.step), STATUS.value_set(status)])

    @workflow.run
    async def run(self, task: Task) -> Bill:
        self.messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": task.text}]
        for k in range(1, task.steps + 1):
            if task.review_before == k:
                self._set("waiting for review")
                await workflow.wait_condition(lambda: self.reviewed)
            self.step = k
            item = ITEMS[(k - 1) % len(ITEMS)]  # the bill's k-th line: the plan is fixed, whatever the model
            self.messages.append({"role": "user", "content": f"Step {k}: price the item {item!r}."})
            self._set("thinking")
            with naive_span(f"step {k}", task.naive_spans):
                reply = await workflow.execute_activity("call_model", args=[k, self.messages], result_type=ModelReply,
                                                        activity_id=f"{k}-model", **MODEL_CALL)
                call_id = _call_id(reply, k)
                self.messages.append({"role": "assistant", "content": reply.content, "tool_calls": [
                    {"id": call_id, "type": "function", "function": {"name": "price", "arguments": json.dumps({"item": item})}}]})
                self._set("calling tool")
                value = await workflow.execute_activity("price", args=[k, item], result_type=float,
                                                        activity_id=f"{k}-tool", **TOOL_CALL)
            self.messages.append({"role": "tool", "tool_call_id": call_id, "content": f"{item}: {value} USD"})
            self.lines[item] = value
        self._set("done")
        return Bill(round(sum(self.lines.values()), 2), dict(self.lines))


def _call_id(reply: ModelReply, k: int) -> str:
    """The id of the model's `price` tool call (a model that did not call it gets one made up for step k)."""
    for call in reply.tool_calls:
        if call["name"] == "price" and call["id"]:
            return call["id"]
    return f"call_{k}"
