"""Approval buttons for JupyterLab: each button sends the same signal the notebook cells send."""

from __future__ import annotations

import asyncio
from typing import Any

import ipywidgets as widgets
from temporalio.client import WorkflowHandle

from .workflows import PlanApproval


class ApprovalPanel:
    """Approve / Reject buttons bound to one waiting workflow, plus a line that shows what was sent."""

    def __init__(self, handle: WorkflowHandle[Any, Any]) -> None:
        self.handle = handle
        self.approve_button = widgets.Button(description="Approve", button_style="success", icon="check")
        self.reject_button = widgets.Button(description="Reject", button_style="danger", icon="times")
        self.reason = widgets.Text(placeholder="reason (for reject)")
        self.out = widgets.Label(value="waiting for your decision")
        self.approve_button.on_click(lambda _: asyncio.ensure_future(self.click("approve")))
        self.reject_button.on_click(lambda _: asyncio.ensure_future(self.click("reject")))
        self.widget = widgets.VBox([widgets.HBox([self.approve_button, self.reject_button, self.reason]), self.out])

    async def click(self, choice: str) -> None:
        """What a button press does (call it directly to drive the panel from code)."""
        if choice == "approve":
            await self.handle.signal(PlanApproval.approve)
        else:
            await self.handle.signal(PlanApproval.reject, self.reason.value or "no reason given")
        self.approve_button.disabled = self.reject_button.disabled = True
        self.out.value = f"sent: {choice}"

    def _ipython_display_(self) -> None:
        from IPython.display import display

        display(self.widget)
