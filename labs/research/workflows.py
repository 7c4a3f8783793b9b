"""The research agent: a Planner workflow, Executor and Validator child workflows, review by update, saga publish.

Every step's timeouts and retry policy are set here, as a production team would set them; `time_scale`
shrinks every retry interval and timeout for demos and tests (0.1: ten times faster, with floors so a timeout
never undercuts the work); the shape of each policy stays the same.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeKey
from temporalio.exceptions import ActivityError, ApplicationError, ChildWorkflowError
from temporalio.workflow import ParentClosePolicy

with workflow.unsafe.imports_passed_through():
    from .activities import (MAX_FINDING_CHARS, Finding, Passage, PlanInput, PublishInput, Report, ResearchActivities,
                             RetrieveInput, SynthesisInput)

STATUS = SearchAttributeKey.for_keyword("ResearchStatus")
TOPIC = SearchAttributeKey.for_keyword("ResearchTopic")
STEP = SearchAttributeKey.for_keyword("ResearchStep")
SEARCH_ATTRIBUTES = [STATUS, TOPIC, STEP]
PATCH = "synthesis-prompt-v2"


def options(step: str, time_scale: float = 1.0) -> dict[str, Any]:
    """Timeouts and retry policy of one step (`search`, `extract`, `retrieve`, `model`, `publish`, `undo`, `notify`)."""
    def s(seconds: float) -> timedelta:  # a retry interval, scaled for demos (never under 0.1 s)
        return timedelta(seconds=max(seconds * time_scale, 0.1))

    def t(seconds: float, floor: float) -> timedelta:  # a timeout, scaled for demos (never under `floor`)
        return timedelta(seconds=max(seconds * time_scale, floor))

    return {
        # 5 attempts, 2 s apart and doubling; a 400 (our query is wrong) stops at once.
        "search": {"start_to_close_timeout": t(10, 6),
                   "retry_policy": RetryPolicy(initial_interval=s(2), backoff_coefficient=2, maximum_attempts=5,
                                               non_retryable_error_types=["BadSearchRequest"])},
        # A damaged PDF does not heal: fail fast.
        "extract": {"start_to_close_timeout": t(30, 5),
                    "retry_policy": RetryPolicy(initial_interval=s(1), maximum_attempts=3,
                                                non_retryable_error_types=["CorruptDocument"])},
        # Long work heartbeats: a dead worker is noticed after the heartbeat timeout, not after 2 minutes.
        "retrieve": {"start_to_close_timeout": t(120, 15),
                     "heartbeat_timeout": timedelta(seconds=2),
                     "retry_policy": RetryPolicy(initial_interval=s(1), maximum_attempts=5,
                                                 non_retryable_error_types=["BadRequest"])},
        # Model calls: up to 10 attempts, exponential backoff capped at 60 s; 429s wait as long as asked.
        "model": {"start_to_close_timeout": t(60, 8),
                  "retry_policy": RetryPolicy(initial_interval=s(1), backoff_coefficient=2, maximum_attempts=10,
                                              maximum_interval=s(60),
                                              non_retryable_error_types=["BadRequest", "CannotDecompose"])},
        # Publishing is idempotent (key), retried 3 times; a schema error fails fast.
        "publish": {"start_to_close_timeout": t(10, 5),
                    "retry_policy": RetryPolicy(initial_interval=s(1), maximum_attempts=3,
                                                non_retryable_error_types=["SchemaError"])},
        "notify": {"start_to_close_timeout": t(10, 5),
                   "retry_policy": RetryPolicy(initial_interval=s(1), maximum_attempts=3,
                                               non_retryable_error_types=["AnnounceFailed"])},
        # Compensations retry until they succeed.
        "undo": {"start_to_close_timeout": t(10, 5), "retry_policy": RetryPolicy(initial_interval=s(1))},
    }[step]


def root_cause(error: BaseException) -> BaseException:
    """The first application error in a Temporal failure chain (workflow -> child -> activity -> application error)."""
    while not isinstance(error, ApplicationError) and getattr(error, "cause", None) is not None:
        error = error.cause  # type: ignore[assignment]
    return error


@dataclass
class Task:
    question: str
    time_scale: float = 1.0
    feedback: str = ""
    passages: list[Passage] | None = None  # given for a revision: reuse the sources, only synthesise again


async def gather_passages(task: Task) -> list[Passage]:
    """The executor's sources: the task's own passages (a revision), else search -> extract -> retrieve activities."""
    if task.passages is not None:
        return task.passages
    hits = await workflow.execute_activity_method(
        ResearchActivities.search, task.question, **options("search", task.time_scale))
    documents = await workflow.execute_activity_method(
        ResearchActivities.extract, hits, **options("extract", task.time_scale))
    return await workflow.execute_activity_method(
        ResearchActivities.retrieve, RetrieveInput(task.question, documents), **options("retrieve", task.time_scale))


@workflow.defn
class Executor:
    """One sub-question: search -> extract -> retrieve -> synthesise, each an activity with its own policy."""

    @workflow.run
    async def run(self, task: Task) -> Finding:
        passages = await gather_passages(task)
        # The synthesis prompt changed (v2 cites every claim). Runs that started before keep prompt v1,
        # so one report never mixes findings written under two prompts.
        version = 2 if workflow.patched(PATCH) else 1
        return await workflow.execute_activity_method(
            ResearchActivities.synthesise, SynthesisInput(task.question, passages, task.feedback, version),
            **options("model", task.time_scale))


@dataclass
class Verdict:
    question: str
    ok: bool
    problems: list[str] = field(default_factory=list)


def check_finding(finding: Finding) -> Verdict:
    """The validator's rules: not empty, within the length budget, cites only retrieved chunks (at least one)."""
    problems = []
    retrieved = {p.id for p in finding.passages}
    if not finding.text.strip():
        problems.append("the answer is empty")
    if len(finding.text) > MAX_FINDING_CHARS:
        problems.append(f"the answer has {len(finding.text)} characters; keep it under {MAX_FINDING_CHARS}")
    if not finding.citations:
        problems.append("the answer cites no source; cite the numbered sources as [n]")
    bad = [c for c in finding.citations if c not in retrieved]
    if bad:
        problems.append(f"citations {bad} are not among the retrieved sources")
    return Verdict(finding.question, not problems, problems)


@workflow.defn
class Validator:
    """Checks every finding (deterministic rules, so they run in workflow code)."""

    @workflow.run
    async def run(self, findings: list[Finding]) -> list[Verdict]:
        return [check_finding(f) for f in findings]


@dataclass
class ResearchRequest:
    topic: str
    max_questions: int = 3
    review_timeout_seconds: float = 3600.0  # then escalate
    time_scale: float = 1.0
    search_attributes: bool = True


@dataclass
class ReviewDecision:
    approve: bool
    comment: str = ""


@dataclass
class Draft:
    status: str
    step: str
    report: Report | None = None


@dataclass
class Outcome:
    status: str  # published | rejected | escalated
    key: str
    report: Report | None = None
    sent_back: list[str] = field(default_factory=list)  # questions the validator returned once


@workflow.defn
class Planner:
    """Plan -> executors in parallel -> validator -> human review (one revision) -> publish, with a saga."""

    def __init__(self) -> None:
        self.status, self.step = "planning", "plan"
        self.report: Report | None = None
        self.decision: ReviewDecision | None = None
        self.attributes = True

    def _progress(self, status: str | None = None, step: str | None = None) -> None:
        self.status, self.step = status or self.status, step or self.step
        if self.attributes:
            workflow.upsert_search_attributes([STATUS.value_set(self.status), STEP.value_set(self.step)])

    @workflow.query
    def draft(self) -> Draft:
        """Where the run is and the draft report (None before the first draft)."""
        return Draft(self.status, self.step, self.report)

    @workflow.update
    def review(self, decision: ReviewDecision) -> str:
        """A reviewer approves, or rejects with a comment (one revision round follows)."""
        self.decision = decision
        return "approved" if decision.approve else "sent back for revision"

    @review.validator
    def _check_review(self, decision: ReviewDecision) -> None:
        if self.status != "awaiting review":
            raise ValueError(f"nothing awaits review: the run is {self.status!r}")
        if not decision.approve and not decision.comment.strip():
            raise ValueError("a rejection needs a comment that says what to change")

    async def _execute(self, i: int, task: Task, suffix: str = "") -> Finding:
        me = workflow.info().workflow_id
        try:
            # A workflow task lost with a crashed worker is retried after the task timeout (10 s by default).
            return await workflow.execute_child_workflow(Executor.run, task, id=f"{me}-q{i}{suffix}",
                                                         task_timeout=timedelta(seconds=max(10 * task.time_scale, 2)))
        except ChildWorkflowError as e:
            cause = root_cause(e)
            raise ApplicationError(f"The executor for {task.question!r} failed: {cause}",
                                   type=getattr(cause, "type", None) or "ExecutorFailed", non_retryable=True) from e

    @workflow.run
    async def run(self, request: ResearchRequest) -> Outcome:
        me, scale = workflow.info().workflow_id, request.time_scale
        self.attributes = request.search_attributes
        if self.attributes:
            workflow.upsert_search_attributes([TOPIC.value_set(request.topic[:200])])
        self._progress("planning", "plan")
        questions = await workflow.execute_activity_method(
            ResearchActivities.plan_topic, PlanInput(request.topic, request.max_questions), **options("model", scale))

        self._progress("researching", "execute")
        findings = list(await asyncio.gather(*(self._execute(i, Task(q, scale)) for i, q in enumerate(questions, 1))))

        self._progress(step="validate")
        verdicts = await workflow.execute_child_workflow(Validator.run, findings, id=f"{me}-validator")
        failed = [i for i, v in enumerate(verdicts) if not v.ok]
        if failed:  # each failed finding goes back to its executor once, with the validator's feedback
            self._progress(step="fix")
            fixed = await asyncio.gather(*(self._execute(
                i + 1, Task(questions[i], scale, "; ".join(verdicts[i].problems), findings[i].passages), "-fix")
                for i in failed))
            for i, finding in zip(failed, fixed):
                findings[i] = finding
        sent_back = [questions[i] for i in failed]
        self.report = Report(request.topic, findings, 0)

        while True:
            self.decision = None
            self._progress("awaiting review", "review")
            try:
                await workflow.wait_condition(lambda: self.decision is not None,
                                              timeout=timedelta(seconds=request.review_timeout_seconds))
            except asyncio.TimeoutError:
                self._progress("escalated", "escalate")
                await workflow.execute_activity_method(ResearchActivities.escalate, request.topic,
                                                       start_to_close_timeout=timedelta(seconds=10))
                return Outcome("escalated", me, self.report, sent_back)
            assert self.decision is not None
            if self.decision.approve:
                break
            if self.report.revision >= 1:  # one revision round only
                self._progress("rejected", "done")
                return Outcome("rejected", me, self.report, sent_back)
            self._progress("revising", "revise")
            comment, revision = self.decision.comment, self.report.revision + 1
            findings = list(await asyncio.gather(*(self._execute(
                i, Task(f.question, scale, comment, f.passages), f"-rev{revision}") for i, f in enumerate(findings, 1))))
            self.report = Report(request.topic, findings, revision)

        # Publish as a saga: register the compensation first, undo if a later step fails.
        self._progress("publishing", "publish")
        compensations = []
        try:
            compensations.append(ResearchActivities.retract)
            await workflow.execute_activity_method(ResearchActivities.publish, PublishInput(me, self.report),
                                                   **options("publish", scale))
            await workflow.execute_activity_method(ResearchActivities.announce, me, **options("notify", scale))
        except ActivityError:
            self._progress("compensating", "retract")
            for undo in reversed(compensations):
                await workflow.execute_activity_method(undo, me, **options("undo", scale))
            self._progress("failed", "done")
            raise
        self._progress("published", "done")
        return Outcome("published", me, self.report, sent_back)


@dataclass
class OneQuestion:
    """Input of the exercise's one-question agent."""

    question: str
    time_scale: float = 1.0


@dataclass
class WeeklyInput:
    request: ResearchRequest
    every_seconds: float = 7 * 24 * 3600
    runs: int = 0  # how many runs to start in total (0: forever)
    iteration: int = 0


@workflow.defn
class WeeklyResearch:
    """The alternative to a Schedule: start a run, sleep a week, continue as new (one bounded history per week)."""

    @workflow.run
    async def run(self, job: WeeklyInput) -> int:
        me = workflow.info().workflow_id
        await workflow.start_child_workflow(Planner.run, job.request, id=f"{me}-week{job.iteration + 1}",
                                            parent_close_policy=ParentClosePolicy.ABANDON)
        if job.runs and job.iteration + 1 >= job.runs:
            return job.iteration + 1
        await workflow.sleep(timedelta(seconds=job.every_seconds))
        workflow.continue_as_new(WeeklyInput(job.request, job.every_seconds, job.runs, job.iteration + 1))
