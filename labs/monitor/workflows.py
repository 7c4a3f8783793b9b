"""Always-on monitoring agents: a naive one that grows forever, and one that continues as new."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from .activities import check_feed

CALL = {"start_to_close_timeout": timedelta(seconds=10)}


@dataclass
class MonitorState:
    """Everything the agent must remember across runs - small on purpose."""

    checks: int = 0
    found: int = 0
    reports: int = 0
    pending: list[str] = field(default_factory=list)  # signals received, not yet handled
    summary: str = ""  # a rolling summary, not the whole transcript
    run: int = 1


@dataclass
class Feed:
    name: str
    total_checks: int = 1_000_000
    state: MonitorState | None = None


@workflow.defn
class NaiveMonitor:
    """Loops forever in one run: its history grows until the server terminates it."""

    @workflow.run
    async def run(self, feed: Feed) -> int:
        checks = 0
        while checks < feed.total_checks:
            await workflow.execute_activity(check_feed, checks, **CALL)
            checks += 1
        return checks


@workflow.defn
class Monitor:
    """Continues as new whenever the server suggests it, carrying its state and unhandled signals."""

    @workflow.init
    def __init__(self, feed: Feed) -> None:
        # Set the state from the input BEFORE any signal handler runs: signals that were waiting when this
        # run started are delivered before `run` begins, and must land in the carried-over state.
        self.state = feed.state or MonitorState()

    @workflow.signal
    def report(self, item: str) -> None:
        self.state.pending.append(item)

    @workflow.query
    def status(self) -> MonitorState:
        return self.state

    def _remember(self, item: str) -> None:
        self.state.summary = (self.state.summary.split(" | ")[-2:] + [item]) if self.state.summary else [item]
        self.state.summary = " | ".join(self.state.summary)

    @workflow.run
    async def run(self, feed: Feed) -> MonitorState:
        while self.state.checks < feed.total_checks:
            item = await workflow.execute_activity(check_feed, self.state.checks, **CALL)
            self.state.checks += 1
            if item:
                self.state.found += 1
                self._remember(item)
            while self.state.pending:  # handle the human reports that arrived meanwhile
                self.state.reports += 1
                self._remember(self.state.pending.pop(0))
            if workflow.info().is_continue_as_new_suggested():
                await workflow.wait_condition(workflow.all_handlers_finished)
                self.state.run += 1
                workflow.continue_as_new(Feed(feed.name, feed.total_checks, self.state))
        while self.state.pending:
            self.state.reports += 1
            self._remember(self.state.pending.pop(0))
        return self.state
