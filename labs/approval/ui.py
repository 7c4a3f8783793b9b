"""Approval buttons for JupyterLab: each button sends the same signal the notebook cells send.

`await ApprovalPanel(handle).ask()` shows the panel and waits for the learner's click (live notebook), or clicks
Approve itself in a headless run (lab_support.learner). After the click the status line reads
"workflow <id>: completed (...)" once the workflow has finished; errors appear on that line, never silently.
"""

from __future__ import annotations

import asyncio
from typing import Any

import ipywidgets as widgets
from temporalio.client import WorkflowExecutionStatus, WorkflowHandle

from lab_support.learner import guarded, wait_for_learner

from .workflows import PlanApproval


class ApprovalPanel:
    """Approve / Reject buttons bound to one waiting workflow, plus a status line (what was sent, how it ended)."""

    def __init__(self, handle: WorkflowHandle[Any, Any]) -> None:
        self.handle = handle
        self.sent: str | None = None  # the decision sent, once a button (or `click`) sent it
        self.approve_button = widgets.Button(description="Approve", button_style="success", icon="check")
        self.reject_button = widgets.Button(description="Reject", button_style="danger", icon="times")
        self.reason = widgets.Text(placeholder="reason (for reject)")
        self.out = widgets.Label(value=f"workflow {handle.id}: waiting for your decision")
        self.approve_button.on_click(guarded(lambda: self.click("approve"), self.out))
        self.reject_button.on_click(guarded(lambda: self.click("reject"), self.out))
        self.widget = widgets.VBox([widgets.HBox([self.approve_button, self.reject_button, self.reason]), self.out])

    def _disable(self, text: str) -> None:
        self.approve_button.disabled = self.reject_button.disabled = True
        self.out.value = text

    async def _finished(self) -> str | None:
        """The workflow's final status name (e.g. "COMPLETED") if it is no longer running, else None."""
        status = (await self.handle.describe()).status
        return None if status == WorkflowExecutionStatus.RUNNING else status.name

    async def _decision(self) -> str | None:
        """The decision signal ("approve" / "reject") the workflow received, read from its history (None: none)."""
        decision = None
        async for event in self.handle.fetch_history_events():
            if event.HasField("workflow_execution_signaled_event_attributes"):
                name = event.workflow_execution_signaled_event_attributes.signal_name
                if name in ("approve", "reject") and decision is None:
                    decision = name  # the workflow acts on the first decision
        return decision

    async def click(self, choice: str) -> None:
        """What a button press does: send the signal, then show "workflow <id>: completed (<result>)" when it ends.

        Raises LabError (also shown on the status line) if the workflow has already finished."""
        from lab_support.server import LabError

        self.approve_button.disabled = self.reject_button.disabled = True  # one decision: no double click
        ended = await self._finished()
        if ended is not None:
            raise LabError(f"Workflow {self.handle.id} already finished ({ended.lower()}). Fix: start a new plan "
                           "(`handle = await start_agent(...)`) and make a new panel for it.")
        if choice == "approve":
            await self.handle.signal(PlanApproval.approve)
        else:
            await self.handle.signal(PlanApproval.reject, self.reason.value or "no reason given")
        self.sent = choice
        self._disable(f"workflow {self.handle.id}: sent {choice}, waiting for it to finish…")
        result = await asyncio.wait_for(self.handle.result(), 30)
        self.out.value = f"workflow {self.handle.id}: completed ({result})"

    async def ask(self, timeout: float = 300.0) -> str:
        """Show the panel and wait for the learner's click (live), or approve by itself (headless, or after `timeout`
        s). Returns who decided: "learner", "headless" or "timeout"; at once "finished" if the workflow already ended."""
        from IPython.display import display

        ended = await self._finished()  # first: a closed lab raises its one-line error before any button shows
        if ended is not None:
            self.sent = await self._decision()
            self._disable(f"workflow {self.handle.id} already finished ({ended.lower()}; decision: {self.sent}). "
                          "For a new decision run the cell that starts a plan (section 1), then this one again.")
            display(self)
            return "finished"
        display(self)
        return await wait_for_learner(lambda: self.sent is not None, prompt="press **Approve** (or Reject) above.",
                                      act=lambda: self.click("approve"), acted="pressed Approve in code", timeout=timeout)

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
