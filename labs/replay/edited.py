"""SupportAgent after an "innocent" edit: it now searches the docs before classifying.

Same workflow name, different sequence of commands. Replaying an old history with this code fails.
"""

from __future__ import annotations

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .activities import Draft, Ticket, classify, draft_reply, search_docs
    from .workflows import CALL, Reply


@workflow.defn(name="SupportAgent")
class SupportAgent:
    @workflow.run
    async def run(self, ticket: Ticket) -> Reply:
        docs = await workflow.execute_activity(search_docs, "other", **CALL)  # new first step
        label = await workflow.execute_activity(classify, ticket, **CALL)
        text = await workflow.execute_activity(draft_reply, Draft(ticket, label, docs), **CALL)
        return Reply(ticket.id, label, text)
