"""The durable research agent: the loop is a workflow, each tool call an activity."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from .activities import ResearchTools
    from .steps import STEPS


@dataclass
class ResearchRequest:
    topic: str
    heartbeat_timeout: float = 1.0  # seconds of silence before a running step counts as lost


@dataclass
class ResearchReport:
    topic: str
    notes: list[str]


@workflow.defn
class ResearchAgent:
    @workflow.run
    async def run(self, request: ResearchRequest) -> ResearchReport:
        notes = []
        for step in range(1, len(STEPS) + 1):
            notes.append(await workflow.execute_activity_method(
                ResearchTools.run_step, step,
                start_to_close_timeout=timedelta(seconds=10),
                heartbeat_timeout=timedelta(seconds=request.heartbeat_timeout),  # a dead worker is noticed fast
                retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=300)),
                summary=f"step {step}: {STEPS[step - 1]}",  # what the Web UI shows beside `run_step`
            ))
        return ResearchReport(request.topic, notes)
