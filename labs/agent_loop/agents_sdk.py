"""The same research agent written with the OpenAI Agents SDK, made durable by Temporal's plugin.

`Runner.run` inside a workflow sends every model call through an activity (the plugin's
`invoke_model_activity`), and `activity_as_tool` turns a Temporal activity into an agent tool.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import activity, workflow

with workflow.unsafe.imports_passed_through():
    from agents import Agent, Runner
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


def worker_options() -> dict[str, Any]:
    """Workflows and tool activities; the plugin on the client adds the model activity."""
    return {"workflows": [AgentsResearch], "activities": [look_up]}
