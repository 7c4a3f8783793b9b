"""An agent step that fans out many model calls and tool calls, each to a task queue of our choosing."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .activities import call_llm, run_tool

CALL = {"start_to_close_timeout": timedelta(seconds=60)}


@dataclass
class Burst:
    llm_calls: int
    tool_calls: int
    llm_queue: str
    tool_queue: str


@workflow.defn
class AgentBurst:
    @workflow.run
    async def run(self, burst: Burst) -> int:
        llm = [workflow.execute_activity(call_llm, f"q{i}", task_queue=burst.llm_queue, **CALL)
               for i in range(burst.llm_calls)]
        tools = [workflow.execute_activity(run_tool, f"t{i}", task_queue=burst.tool_queue, **CALL)
                 for i in range(burst.tool_calls)]
        return len(await asyncio.gather(*llm, *tools))
