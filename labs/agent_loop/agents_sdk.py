"""The same research agent written with the OpenAI Agents SDK, made durable by Temporal's plugin.

`Runner.run` inside a workflow sends every model call through an activity (the plugin's
`invoke_model_activity`), and `activity_as_tool` turns a Temporal activity into an agent tool. A plain
`@function_tool` is NOT an activity: it runs inside the workflow, so it must be deterministic and do no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from agents import Agent, Runner, function_tool
    from temporalio.openai_agents.workflow import activity_as_tool


@activity.defn
async def look_up(topic: str) -> str:
    """A tool for the agent: look a topic up (deterministic, offline)."""
    return f"{topic}: a workflow's progress is its event history; activities are retried; crashes resume."


@workflow.defn
class AgentsResearch:
    @workflow.run
    async def run(self, question: str) -> str:
        agent = Agent(
            name="Researcher",
            instructions="Use the look_up tool once, then answer in one sentence.",
            model=workflow.memo_value("model", default="gpt-4o-mini", type_hint=str),
            tools=[activity_as_tool(look_up, start_to_close_timeout=timedelta(seconds=10))],
        )
        result = await Runner.run(agent, question)
        return str(result.final_output)


@function_tool
def count_words(text: str) -> int:
    """Count the words in a text. A plain function tool: it runs inside the workflow, not as an activity."""
    return len(text.split())


@dataclass
class ToolsRun:
    answer: str
    tool_calls: list[str]  # the tools the model called, in order (from the run's items)


@workflow.defn
class AgentsTools:
    """The agent with two kinds of tool: an activity (`look_up`) and a function tool (`count_words`)."""

    @workflow.run
    async def run(self, question: str) -> ToolsRun:
        agent = Agent(
            name="Researcher",
            instructions="Use your tools, then answer in one sentence.",
            model=workflow.memo_value("model", default="gpt-4o-mini", type_hint=str),
            tools=[activity_as_tool(look_up, start_to_close_timeout=timedelta(seconds=10)), count_words],
        )
        result = await Runner.run(agent, question)
        calls = [item.raw_item.name for item in result.new_items if item.type == "tool_call_item"]
        return ToolsRun(str(result.final_output), calls)


def worker_options() -> dict[str, Any]:
    """Workflows and tool activities; the plugin on the client adds the model activity."""
    return {"workflows": [AgentsResearch, AgentsTools], "activities": [look_up]}
