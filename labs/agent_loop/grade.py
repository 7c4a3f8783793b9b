"""Check for exercise 11: a scripted model invents a tool, then calls a real one, then answers."""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path
from types import ModuleType

from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Worker

from lab_support.exercises import Verdict, not_yet, passed, stuck_verdict
from lab_support.history import to_frame
from lab_support.ledger import Ledger
from lab_support.llm import start_model
from lab_support.workers import WorkflowTaskFailed, build_id, wait_result

from .activities import AgentActivities
from .workflows import Question

HINTS = [
    "Check `call.name in TOOLS` first and return a string such as \"error: unknown tool ...\" - "
    "the loop sends it back to the model as the tool's result.",
    "`json.loads(call.arguments)[TOOLS[call.name]]` gives the argument; catch ValueError/KeyError.",
    "Run the tool with `await workflow.execute_activity(call.name, argument, result_type=str, **TOOL_CALL)` "
    "so its result is recorded and a crash does not repeat it.",
]


async def grade(client: Client, module: ModuleType) -> Verdict:
    """The agent must survive an invented tool and run the real one exactly once, as an activity."""
    model = start_model(fake=True)
    model.call_tool("summon_dragon", power=9000).call_tool("search_web", query="temporal").say("done")
    ledger = Ledger(Path(tempfile.mkdtemp()) / "ledger.db")
    acts = AgentActivities(model.base_url, model.name, True, str(ledger.path))
    task_queue = f"check-loop-{uuid.uuid4().hex[:8]}"
    try:
        async with Worker(client, task_queue=task_queue, build_id=build_id(__file__), workflows=[module.ExerciseLoop],
                          activities=[acts.call_model, acts.search_web, acts.read_page]):
            handle = await client.start_workflow(module.ExerciseLoop.run, Question("check", max_turns=5),
                                                 id=f"check-loop-{uuid.uuid4().hex[:8]}", task_queue=task_queue)
            try:
                result = await wait_result(handle, timeout=20)
            except WorkflowTaskFailed as e:
                return await stuck_verdict(handle, e, "agent_loop", HINTS[0], what="The agent crashed on a tool call")
            except WorkflowFailureError as e:
                return not_yet(f"The agent failed: {e.cause}", HINTS[0])
            conversation = await handle.query("conversation")
        events = to_frame(await handle.fetch_history())
    finally:
        model.stop()
    tool_messages = [m["content"] for m in conversation if m.get("role") == "tool"]
    if result.answer != "done" or len(tool_messages) != 2:
        return not_yet(f"The agent answered {result.answer!r} after {len(tool_messages)} tool results; "
                       "expected 2 tool results, then 'done'.", HINTS[0])
    if "summon_dragon" not in tool_messages[0] and "unknown" not in tool_messages[0].lower():
        return not_yet(f"For the invented tool the model was told {tool_messages[0]!r}; say it is unknown.", HINTS[0])
    scheduled = events.loc[events["type"] == "ActivityTaskScheduled", "name"].str.split(" #").str[0].tolist()
    if scheduled.count("search_web") != 1 or len(ledger.frame("tool")) != 1:
        return not_yet("`search_web` did not run exactly once as an activity.", HINTS[2])
    return passed("The invented tool got an error message, `search_web` ran once as an activity, "
                  f"and the agent answered {result.answer!r}.")
