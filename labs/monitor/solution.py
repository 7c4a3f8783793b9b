"""Solution 05 - continue-as-new that carries state and unhandled messages."""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .exercise import Inbox


@workflow.defn(name="InboxAgent")
class InboxAgent:
    @workflow.init
    def __init__(self, inbox: Inbox) -> None:
        self.inbox = inbox

    @workflow.signal
    def message(self, text: str) -> None:
        self.inbox.pending.append(text)

    @workflow.query
    def status(self) -> Inbox:
        return self.inbox

    @workflow.run
    async def run(self, inbox: Inbox) -> Inbox:
        while self.inbox.handled < self.inbox.target:
            await workflow.wait_condition(lambda: bool(self.inbox.pending))
            self.inbox.pending.pop(0)
            self.inbox.handled += 1
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                self.inbox.runs += 1
                workflow.continue_as_new(self.inbox)  # pending messages travel with the state
        return self.inbox
