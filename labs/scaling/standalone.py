"""A one-shot durable model call without a workflow: a standalone activity, de-duplicated by its id.

`client.start_activity` / `execute_activity` schedule an activity directly on a task queue: the server
keeps it, retries it and records its outcome, with no workflow around it (temporalio/client/_client.py).
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta

from temporalio import activity
from temporalio.client import ActivityHandle, Client
from temporalio.common import ActivityIDConflictPolicy, ActivityIDReusePolicy

from lab_support.ledger import Ledger

MODEL_SECONDS = 0.5


class SummaryTools:
    def __init__(self, ledger: str) -> None:
        self.ledger = Ledger(ledger)

    @activity.defn(name="summarize")
    async def summarize(self, doc: str) -> str:
        """A model call that summarises one document (a ledger row per execution)."""
        info = activity.info()
        await asyncio.sleep(MODEL_SECONDS)
        self.ledger.record("summarize", info.attempt, doc, key=info.activity_id, attempt=info.attempt)
        return f"summary of {doc}"


def summary_id(doc: str) -> str:
    """A business key: the same document always gets the same activity id."""
    return "summary-" + hashlib.sha256(doc.encode()).hexdigest()[:12]


async def start_summary(client: Client, task_queue: str, doc: str,
                        reuse: ActivityIDReusePolicy = ActivityIDReusePolicy.ALLOW_DUPLICATE) -> ActivityHandle[str]:
    """Start (or join, if one with this id is running) the summary of `doc`; `reuse` says what a closed one allows."""
    return await client.start_activity(
        SummaryTools.summarize, doc, id=summary_id(doc), task_queue=task_queue,
        start_to_close_timeout=timedelta(seconds=30),
        id_conflict_policy=ActivityIDConflictPolicy.USE_EXISTING, id_reuse_policy=reuse)
