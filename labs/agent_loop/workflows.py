"""The durable agent loop: the conversation lives in workflow state, every model and tool call is an activity."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from .activities import ModelReply, ToolCall

SYSTEM = ("You are a research agent. Use search_web to find sources and read_page to read them, "
          "then answer in two sentences.")
MODEL_CALL = {"start_to_close_timeout": timedelta(seconds=60),
              "retry_policy": RetryPolicy(initial_interval=timedelta(milliseconds=500), maximum_attempts=8)}
TOOL_CALL = {"start_to_close_timeout": timedelta(seconds=60), "heartbeat_timeout": timedelta(seconds=1),
             "retry_policy": RetryPolicy(initial_interval=timedelta(milliseconds=300), maximum_attempts=5)}
TOOLS = {"search_web": "query", "read_page": "url"}  # tool -> its one argument


@dataclass
class Question:
    text: str
    max_turns: int = 10


@dataclass
class AgentResult:
    answer: str
    turns: int


@workflow.defn
class ResearchLoop:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    @workflow.query
    def conversation(self) -> list[dict[str, Any]]:
        """The conversation so far (workflow state, rebuilt by replay after a crash)."""
        return self.messages

    @workflow.run
    async def run(self, question: Question) -> AgentResult:
        self.messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": question.text}]
        for turn in range(1, question.max_turns + 1):
            reply = await workflow.execute_activity("call_model", self.messages, result_type=ModelReply, **MODEL_CALL)
            self.messages.append(_assistant(reply))
            if not reply.tool_calls:
                return AgentResult(reply.content or "", turn)
            for call in reply.tool_calls:
                result = await self.execute_tool(call)
                self.messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        return AgentResult("(stopped: too many turns)", question.max_turns)

    async def execute_tool(self, call: ToolCall) -> str:
        """Run one tool call as its activity; a bad call becomes a message the model can read."""
        if call.name not in TOOLS:
            return f"error: unknown tool {call.name!r}; available: {', '.join(TOOLS)}"
        try:
            argument = json.loads(call.arguments or "{}").get(TOOLS[call.name], "")
        except (ValueError, AttributeError):
            return f"error: arguments of {call.name} are not a JSON object"
        return await workflow.execute_activity(call.name, str(argument), result_type=str, **TOOL_CALL)


def _assistant(reply: ModelReply) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = [{"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                                 for c in reply.tool_calls]
    return message
