"""Always-on monitoring agents: a naive one that grows forever, and one that continues as new."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from .activities import check_feed, fetch_page

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


@dataclass
class Probe:
    page_bytes: int  # how big each activity result is
    max_steps: int = 200


@dataclass
class Suggestion:
    """When `is_continue_as_new_suggested()` first turned true: after which step, at what history length/size."""

    steps: int
    events: int
    bytes: int


@workflow.defn
class SuggestionProbe:
    """Fetch pages until the server suggests continuing as new; report the history length and size then."""

    @workflow.run
    async def run(self, probe: Probe) -> Suggestion:
        for step in range(1, probe.max_steps + 1):
            await workflow.execute_activity(fetch_page, probe.page_bytes, **CALL)
            info = workflow.info()
            if info.is_continue_as_new_suggested():
                return Suggestion(step, info.get_current_history_length(), info.get_current_history_size())
        raise ApplicationError(f"no continue-as-new suggestion within {probe.max_steps} steps")


@workflow.defn
class Helper:
    """A child that waits (for an hour) until its parent no longer needs it."""

    @workflow.run
    async def run(self) -> None:
        await workflow.sleep(timedelta(hours=1))


@workflow.defn
class HandOver:
    """Starts a Helper child (default parent-close policy), then continues as new once."""

    @workflow.run
    async def run(self, handed_over: bool = False) -> str:
        if handed_over:
            return "second run"
        await workflow.start_child_workflow(Helper.run, id=f"{workflow.info().workflow_id}-helper")
        workflow.continue_as_new(True)
