"""Exercise 11 - make the agent's tool calls safe.

A model can ask for a tool that does not exist, or write arguments that are not JSON. Either must
not crash the agent: the loop should hand the model an error message it can read, and carry on.
Fill in `execute_tool`, save, then run the check cell in notebook 11. (The loop itself, `run`, is
the lesson's `ResearchLoop`; you only write the tool dispatch.)
"""

from __future__ import annotations

import json  # noqa: F401 - to parse call.arguments

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from lab_support.exercises import todo

    from .activities import ToolCall
    from .workflows import TOOL_CALL, TOOLS, AgentResult, Question, ResearchLoop  # noqa: F401


@workflow.defn(name="ExerciseLoop")
class ExerciseLoop(ResearchLoop):
    @workflow.run
    async def run(self, question: Question) -> AgentResult:
        return await super().run(question)

    async def execute_tool(self, call: ToolCall) -> str:
        # TODO 1: a tool that is not in TOOLS -> return an error text naming the available tools.
        # TODO 2: parse call.arguments (JSON); if that fails, return an error text.
        # TODO 3: run the tool as its activity: workflow.execute_activity(call.name, <its one argument>,
        #         result_type=str, **TOOL_CALL) - TOOLS says which argument each tool takes.
        return todo("dispatch the tool call")
