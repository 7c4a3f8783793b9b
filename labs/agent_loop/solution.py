"""Solution 11 - safe tool dispatch for the agent loop."""

from __future__ import annotations

import json

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .activities import ToolCall
    from .workflows import TOOL_CALL, TOOLS, AgentResult, Question, ResearchLoop


@workflow.defn(name="ExerciseLoop")
class ExerciseLoop(ResearchLoop):
    @workflow.run
    async def run(self, question: Question) -> AgentResult:
        return await super().run(question)

    async def execute_tool(self, call: ToolCall) -> str:
        if call.name not in TOOLS:  # the model invented a tool: tell it, do not crash
            return f"error: unknown tool {call.name!r}; available: {', '.join(TOOLS)}"
        try:
            argument = json.loads(call.arguments or "{}")[TOOLS[call.name]]
        except (ValueError, KeyError, TypeError):
            return f"error: {call.name} needs JSON arguments with {TOOLS[call.name]!r}"
        return await workflow.execute_activity(call.name, str(argument), result_type=str, **TOOL_CALL)
