"""Exercise checking: run a learner's `labs/<lesson>/exercise.py` through real workflow tests.

Each lesson has `labs/<lesson>/grade.py` with `async def grade(client, module) -> Verdict` and `HINTS`.
The answer is "not attempted" (a `todo()` placeholder still runs), "not yet" with a hint, or "passed".
"""

from __future__ import annotations

import importlib
import inspect
import sys
from dataclasses import dataclass
from typing import Any, NoReturn

from temporalio.client import Client, Interceptor, OutboundInterceptor


class NotAttempted(NotImplementedError):
    """Raised by a `todo()` placeholder the learner has not replaced yet."""


def todo(what: str) -> NoReturn:
    """Placeholder in an exercise: raises until the learner writes the real code."""
    raise NotAttempted(f"TODO: {what}")


@dataclass
class Verdict:
    """The outcome of a check: status is "passed", "not yet" or "not attempted"."""

    status: str
    message: str
    hint: str | None = None
    deleted: tuple[str, ...] = ()  # ids of the check's own workflows it stopped and then deleted (see `check`)

    def __bool__(self) -> bool:
        return self.status == "passed"

    def _repr_markdown_(self) -> str:
        icon = {"passed": "✅", "not yet": "🟡", "not attempted": "⬜"}[self.status]
        text = f"{icon} **{self.status.capitalize()}.** {self.message}"
        return text + (f"\n\n**Hint:** {self.hint}" if self.hint else "")

    def __str__(self) -> str:
        return f"{self.status}: {self.message}" + (f" (hint: {self.hint})" if self.hint else "")


def passed(message: str) -> Verdict:
    """A passing verdict."""
    return Verdict("passed", message)


def not_yet(message: str, hint: str | None = None) -> Verdict:
    """A failing verdict with what is wrong and a hint towards the fix."""
    return Verdict("not yet", message, hint)


def not_attempted(lesson: str) -> Verdict:
    """The exercise still has its placeholders."""
    return Verdict("not attempted", f"`labs/{lesson}/exercise.py` still has `todo(...)` placeholders. "
                   "Edit it, save, and run this cell again.")


async def stuck_verdict(handle: Any, error: Exception, lesson: str, hint: str,
                        what: str = "The workflow task failed") -> Verdict:
    """Verdict for a run whose workflow task keeps failing: stop it (inside `check`: delete it); a `todo()` means not
    attempted."""
    await handle.terminate("check finished")
    if "TODO:" in str(error):
        return not_attempted(lesson)
    return not_yet(f"{what}: {str(error).splitlines()[0][:200]}", hint)


def _fresh(module: str) -> Any:
    """Import `module` again from disk, so the learner's latest edits count."""
    from .workers import _fresh_bytecode

    _fresh_bytecode(module)  # a save within the same second as the last import still counts
    if module in sys.modules:
        return importlib.reload(sys.modules[module])
    return importlib.import_module(module)


def _delete_request(namespace: str, workflow_id: str, run_id: str | None) -> Any:
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.workflowservice.v1 import DeleteWorkflowExecutionRequest

    return DeleteWorkflowExecutionRequest(namespace=namespace,
                                          workflow_execution=WorkflowExecution(workflow_id=workflow_id, run_id=run_id or ""))


class _Recorder(Interceptor):
    """Client interceptor of a check: notes the task queues of the workflows it starts, and turns the check's own
    `terminate` into a delete (a running workflow is then terminated and removed at once, measured in ms)."""

    def __init__(self) -> None:
        self.task_queues: set[str] = set()
        self.deleted: list[str] = []
        self.client: Client | None = None  # the unrecorded client the check was given

    def intercept_client(self, next: OutboundInterceptor) -> OutboundInterceptor:
        recorder = self

        class Outbound(OutboundInterceptor):
            async def start_workflow(self, input: Any) -> Any:
                recorder.task_queues.add(input.task_queue)
                return await super().start_workflow(input)

            async def start_update_with_start_workflow(self, input: Any) -> Any:
                recorder.task_queues.add(input.start_workflow_input.task_queue)
                return await super().start_update_with_start_workflow(input)

            async def terminate_workflow(self, input: Any) -> None:
                client = recorder.client
                assert client is not None
                await client.workflow_service.delete_workflow_execution(
                    _delete_request(client.namespace, input.id, input.run_id))
                recorder.deleted.append(input.id)

        return Outbound(next)


async def _delete_stopped(client: Client, recorder: _Recorder) -> tuple[str, ...]:
    """Delete what is left on the check's task queues that is still RUNNING or TERMINATED (e.g. a child terminated with
    its parent); the runs that ended by themselves (completed, failed, cancelled) stay for the learner to look at."""
    from temporalio.client import WorkflowExecutionStatus
    from temporalio.service import RPCError

    if not recorder.task_queues:
        return tuple(recorder.deleted)
    queues = " OR ".join(f'TaskQueue="{q}"' for q in sorted(recorder.task_queues))
    stopped = (WorkflowExecutionStatus.TERMINATED, WorkflowExecutionStatus.RUNNING)
    deleted = list(recorder.deleted)
    async for listed in client.list_workflows(queues):
        if listed.id in deleted:
            continue
        try:
            status = (await client.get_workflow_handle(listed.id, run_id=listed.run_id).describe()).status
            if status in stopped:  # exact status: the list can lag a termination by a moment
                await client.workflow_service.delete_workflow_execution(
                    _delete_request(client.namespace, listed.id, listed.run_id))
                deleted.append(listed.id)
        except RPCError:  # already gone
            continue
    return tuple(deleted)


async def check(lesson: str, lab: Any = None, module: str = "exercise") -> Verdict:
    """Grade `labs/<lesson>/<module>.py` against a server (the notebook's lab, or a private dev server).

    Afterwards the check deletes its own workflows that it had to terminate (or left running): in the Web UI they
    would look like the learner's failures. `Verdict.deleted` lists their ids."""
    from dataclasses import replace

    from .server import start_dev_server

    grader = _fresh(f"labs.{lesson}.grade")
    target = _fresh(module if "." in module else f"labs.{lesson}.{module}")
    own = None if lab is not None else await start_dev_server(ui=False)
    recorder = _Recorder()
    base = recorder.client = (lab or own).client
    config = base.config()
    config["interceptors"] = [*config["interceptors"], recorder]
    try:
        verdict = await grader.grade(Client(**config), target)
        return replace(verdict, deleted=await _delete_stopped(base, recorder))
    finally:
        if own is not None:
            await own.close()


class _Markdown:
    def __init__(self, text: str) -> None:
        self.text = text

    def _repr_markdown_(self) -> str:
        return self.text

    def __str__(self) -> str:
        return self.text

    __repr__ = __str__


def hint(lesson: str, n: int | None = None) -> _Markdown:
    """The lesson's hints (all of them, or hint number `n`, 1-based)."""
    hints = _fresh(f"labs.{lesson}.grade").HINTS
    chosen = hints if n is None else [hints[n - 1]]
    return _Markdown("\n".join(f"- {h}" for h in chosen))


def solution(lesson: str) -> _Markdown:
    """The lesson's reference solution, as a code block to compare with your exercise."""
    source = inspect.getsource(_fresh(f"labs.{lesson}.solution"))
    return _Markdown(f"`labs/{lesson}/solution.py`\n\n```python\n{source}```")
