"""Lesson 12 (capstone research agent): corpus, search service faults over real HTTP, retrieval quality,
planner / executor / validator / review workflows, saga publish, bad input, golden-history replay, grader."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

import psutil
import pytest
from temporalio.client import WorkflowFailureError, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError
from temporalio.testing import ActivityEnvironment
from temporalio.worker import Worker

from lab_support.llm import start_model
from lab_support.server import LabError, setup
from lab_support.workers import build_id, wait_result
from labs.research.activities import Hit, ResearchActivities, RetrieveInput, published
from labs.research.corpus import DOCS, PDF_IDS, build_corpus, read_document
from labs.research.demo import QUESTIONS, ensure_search_attributes, open_desk, script_model, wait_status
from labs.research.search import SearchService
from labs.research.store import chunk
from labs.research.worker import worker_options
from labs.research.workflows import Planner, ResearchRequest, ReviewDecision, root_cause

# (sub-question, the document that answers it)
CASES = [
    (QUESTIONS[0], "rate-limits"),
    (QUESTIONS[1], "crash-recovery"),
    (QUESTIONS[2], "idempotency"),
    ("What does a compensating action do when a later step of a saga fails?", "sagas"),
    ("How can a reviewer reject a draft and ask for a revision?", "human-review"),
    ("Why does a workflow that loops forever need continue-as-new?", "continue-as-new"),
    ("What overlap policies can a schedule use when a run is still going?", "schedules"),
    ("How do heartbeats let the server notice a crashed worker quickly?", "heartbeats"),
    ("How does cosine similarity between embeddings find relevant chunks?", "embeddings"),
    ("Why should text extraction fail fast on a damaged PDF?", "pdf-extraction"),
    ("How big should chunks be for retrieval, and why overlap them?", "chunking"),
    ("How does a validator check that a finding cites retrieved chunks?", "grounding"),
    ("How does the patch API let new code replay old histories?", "versioning"),
    ("Which metrics reveal an overloaded task queue?", "observability"),
    ("How often should a sourdough starter be fed?", "sourdough"),
    ("Why are there two high tides a day?", "tides"),
]


@pytest.fixture(scope="module")
def model():
    m = start_model(fake=True)
    yield m
    m.stop()


@pytest.fixture
def desk(model):
    model.reset()
    d = open_desk(model, "test")
    yield d
    d.close()


def acts(desk, **extra) -> ResearchActivities:
    return ResearchActivities(**{**desk.worker_config(), **extra})


def test_pdfs_are_real_and_extract_to_the_written_text(tmp_path):
    build_corpus(tmp_path)
    pdfs = sorted(tmp_path.glob("*.pdf"))
    assert {p.stem for p in pdfs} == PDF_IDS and len(DOCS) >= 24
    assert all(p.read_bytes().startswith(b"%PDF-") for p in pdfs)
    doc = next(d for d in DOCS if d.id == "sagas")
    assert " ".join(read_document(tmp_path, "sagas.pdf").split()) == f"{doc.title} {doc.text}"


async def test_search_service_faults_reach_the_real_http_client(desk):
    env, a = ActivityEnvironment(), acts(desk)
    desk.search.fail(429, retry_after=0.5).fail(500).fail(400).slow(0.3)
    with pytest.raises(ApplicationError) as e:
        await env.run(a.search, "rate limits")
    assert e.value.type == "SearchRateLimited" and e.value.next_retry_delay == timedelta(seconds=0.5)
    with pytest.raises(ApplicationError) as e:
        await env.run(a.search, "rate limits")
    assert e.value.type == "SearchUnavailable" and not e.value.non_retryable
    with pytest.raises(ApplicationError) as e:
        await env.run(a.search, "rate limits")
    assert e.value.type == "BadSearchRequest" and e.value.non_retryable
    hits = await env.run(a.search, "rate limits Retry-After")
    assert hits[0].id == "rate-limits"
    log = desk.search.requests()
    assert list(log["status"]) == [429, 500, 400, 200]
    assert log["end"].iloc[-1] - log["start"].iloc[-1] >= 0.3  # the slow answer
    assert desk.ledger.count("search") == 1  # only the successful search is a side effect
    desk.search.stop()
    with pytest.raises(ApplicationError) as e:
        await env.run(a.search, "rate limits")
    assert e.value.type == "SearchUnreachable" and "Fix:" in str(e.value)


async def test_retrieval_finds_the_chunk_from_the_right_document(desk):
    env, a = ActivityEnvironment(), acts(desk)
    right = []
    for question, expected in CASES:
        hits = await env.run(a.search, question)
        documents = await env.run(a.extract, hits)
        passages = await env.run(a.retrieve, RetrieveInput(question, documents))
        right.append(passages[0].doc_id == expected)
    assert all(right[:3]), "the lesson's three sub-questions must retrieve their documents"
    assert sum(right) / len(right) >= 0.85, f"hit rate {sum(right)}/{len(right)}"


async def test_retrieve_is_idempotent_in_the_vector_store(desk):
    env, a = ActivityEnvironment(), acts(desk)
    documents = await env.run(a.extract, [Hit("heartbeats", "Heartbeats", "heartbeats.txt", 1.0)])
    first = await env.run(a.retrieve, RetrieveInput("heartbeat timeout", documents))
    again = await env.run(a.retrieve, RetrieveInput("heartbeat timeout", documents))
    assert [p.id for p in first] == [p.id for p in again]
    import apsw
    import sqlite_vec

    db = apsw.Connection(str(desk.store))
    db.enable_load_extension(True)
    db.load_extension(sqlite_vec.loadable_path())
    stored = db.execute("SELECT COUNT(*) FROM chunks_512").fetchone()[0]
    d = documents[0]
    assert stored == len(chunk(d.id, f"{d.title}. {d.text}")) >= 2  # the second run added nothing


async def _run(lab, desk, request: ResearchRequest, **worker_extra):
    task_queue = f"research-{uuid.uuid4().hex[:8]}"
    async with Worker(lab.client, task_queue=task_queue, build_id=build_id(__file__),
                      **worker_options(**desk.worker_config(**worker_extra))):
        handle = await lab.client.start_workflow(Planner.run, request, id=f"research-{uuid.uuid4().hex[:8]}",
                                                 task_queue=task_queue)
        yield handle


async def test_planner_fans_out_validates_reviews_and_publishes_once(lab, desk, model):
    await ensure_search_attributes(lab.client)
    script_model(model, uncited_first=1)
    async for handle in _run(lab, desk, ResearchRequest("durable agents", time_scale=0.1)):
        draft = await wait_status(handle, "awaiting review")
        assert len(draft.report.findings) == 3 and all(f.citations for f in draft.report.findings)
        waiting = []
        for _ in range(150):  # visibility is eventually consistent
            waiting = [w.id async for w in lab.client.list_workflows(
                f'ResearchStatus = "awaiting review" AND WorkflowId = "{handle.id}"')]
            if waiting:
                break
            await asyncio.sleep(0.1)
        assert waiting == [handle.id]
        with pytest.raises(WorkflowUpdateFailedError):
            await handle.execute_update(Planner.review, ReviewDecision(False, "  "))  # the validator refuses
        await handle.execute_update(Planner.review, ReviewDecision(False, "Name the failure each answer covers."))
        draft = await wait_status(handle, "awaiting review")
        assert draft.report.revision == 1
        await handle.execute_update(Planner.review, ReviewDecision(True))
        outcome = await wait_result(handle, timeout=60)
        with pytest.raises(RPCError, match="completed"):
            await handle.execute_update(Planner.review, ReviewDecision(True))  # nothing awaits review now
    assert outcome.status == "published" and len(outcome.sent_back) == 1
    effects = desk.ledger.frame()
    assert (effects["actor"] == "search").sum() == 3 and (effects["actor"] == "publish").sum() == 1
    rows = published(desk.reports_db)
    assert [r["key"] for r in rows] == [handle.id] and rows[0]["revision"] == 1
    children = {e.child_workflow_execution_started_event_attributes.workflow_execution.workflow_id
                for e in (await handle.fetch_history()).events
                if e.HasField("child_workflow_execution_started_event_attributes")}
    suffixes = {c.removeprefix(handle.id) for c in children}
    fixed = {s for s in suffixes if s.endswith("-fix")}
    assert suffixes - fixed == {"-q1", "-q2", "-q3", "-validator", "-q1-rev1", "-q2-rev1", "-q3-rev1"}
    assert len(fixed) == 1  # the one uncited answer went back to its executor once


async def test_a_failed_announcement_retracts_the_report(lab, desk, model):
    script_model(model)
    async for handle in _run(lab, desk, ResearchRequest("saga", time_scale=0.1, search_attributes=False),
                             fail_announce=True):
        await wait_status(handle, "awaiting review")
        await handle.execute_update(Planner.review, ReviewDecision(True))
        with pytest.raises(WorkflowFailureError):
            await wait_result(handle, timeout=60)
    assert desk.ledger.count("publish") == 1 and desk.ledger.count("retract") == 1
    assert published(desk.reports_db) == []


async def test_a_schema_error_fails_publish_at_once(lab, desk, model):
    db = sqlite3.connect(desk.reports_db)
    db.execute("CREATE TABLE reports (key TEXT PRIMARY KEY, title TEXT)")  # not the agent's schema
    db.close()
    script_model(model)
    async for handle in _run(lab, desk, ResearchRequest("schema", time_scale=0.1, search_attributes=False)):
        await wait_status(handle, "awaiting review")
        await handle.execute_update(Planner.review, ReviewDecision(True))
        with pytest.raises(WorkflowFailureError) as e:
            await wait_result(handle, timeout=60)
    cause = root_cause(e.value)
    assert isinstance(cause, ApplicationError) and cause.type == "SchemaError" and "Fix:" in cause.message
    publish = [ev for ev in (await handle.fetch_history()).events if ev.HasField("activity_task_started_event_attributes")
               and ev.activity_task_started_event_attributes.attempt == 1]
    assert publish, "the publish step ran once"
    assert desk.ledger.count("publish") == 0


async def test_review_escalates_after_its_timeout(model):
    """Time-skipping: a one-week review timeout passes in about a second."""
    lab = await setup(time_skipping=True)
    desk = open_desk(model, "test-escalate")
    model.reset()
    script_model(model)
    try:
        async for handle in _run(lab, desk, ResearchRequest("escalation", review_timeout_seconds=7 * 86400,
                                                            time_scale=0.1, search_attributes=False)):
            outcome = await asyncio.wait_for(handle.result(), 60)
    finally:
        desk.close()
        await lab.close()
    assert outcome.status == "escalated" and desk.ledger.count("escalate") == 1 and desk.ledger.count("publish") == 0


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.mark.parametrize("case", ["unreachable", "undecomposable", "corrupt"])
async def test_bad_input_gives_one_clear_error(lab, model, case):
    before = _children()
    model.reset()
    desk = open_desk(model, f"test-{case}", corrupt="crash-recovery" if case == "corrupt" else None)
    try:
        if case == "undecomposable":
            script_model(model, questions=[])
        elif case == "corrupt":  # a question whose best document is the damaged PDF
            script_model(model, questions=["How does a workflow survive a worker crash?"])
        else:
            script_model(model)
        if case == "unreachable":
            desk.search.stop()
            desk.extra["search_url"] = "http://127.0.0.1:9"  # nothing listens there
        async for handle in _run(lab, desk, ResearchRequest("crashes", time_scale=0.05, search_attributes=False)):
            with pytest.raises(WorkflowFailureError) as e:
                await wait_result(handle, timeout=60)
    finally:
        desk.close()
    cause = root_cause(e.value)
    expected = {"unreachable": "SearchUnreachable", "undecomposable": "CannotDecompose", "corrupt": "CorruptDocument"}
    assert isinstance(cause, ApplicationError) and cause.type == expected[case], str(cause)
    assert "Fix:" in str(cause)
    if case == "corrupt":
        assert "crash-recovery.pdf" in str(cause)
    assert _children() <= before, "no process left running"


def test_an_empty_corpus_is_refused_before_anything_starts(tmp_path):
    build_corpus(tmp_path, docs=[])
    with pytest.raises(LabError, match="empty.*Fix"):
        SearchService(tmp_path)
    with pytest.raises(LabError, match="Fix"):
        SearchService(tmp_path / "nowhere")


async def test_golden_histories_replay_and_an_unpatched_change_does_not():
    from labs.research.record import replay_all
    from labs.research.v1 import ExecutorUnpatched

    assert await replay_all() == {"planner": "ok", "executor": "ok", "executor_v1": "ok"}
    broken = await replay_all(executor=ExecutorUnpatched)
    assert broken["planner"] == "ok"
    assert broken["executor"].startswith("[TMPRL1100]") and broken["executor_v1"].startswith("[TMPRL1100]")


@pytest.mark.parametrize("module, status, words", [
    ("labs.research.solution", "passed", "retracted"),
    ("tests.fixtures.wrong_research", "not yet", "half-published"),
    ("labs.research.exercise", "not attempted", "todo"),
])
async def test_the_checker_grades_right_wrong_and_untouched(lab, module, status, words):
    from lab_support.exercises import check

    verdict = await check("research", lab, module=module)
    assert verdict.status == status, str(verdict)
    assert words in str(verdict).lower()


async def test_an_executor_revision_reuses_its_sources_and_passes_the_feedback(lab, desk, model):
    from labs.research.activities import Passage
    from labs.research.workflows import Executor, Task

    script_model(model)
    passages = [Passage("idempotency#0", "idempotency", "An idempotency key ...", 0.2),
                Passage("idempotency#1", "idempotency", "A unique constraint ...", 0.3)]
    task_queue = f"research-{uuid.uuid4().hex[:8]}"
    async with Worker(lab.client, task_queue=task_queue, build_id=build_id(__file__),
                      **worker_options(**desk.worker_config())):
        handle = await lab.client.start_workflow(
            Executor.run, Task(QUESTIONS[2], 0.1, feedback="Cite the second source.", passages=passages),
            id=f"executor-{uuid.uuid4().hex[:8]}", task_queue=task_queue)
        finding = await wait_result(handle, timeout=30)
    activities = [e.activity_task_scheduled_event_attributes.activity_type.name
                  for e in (await handle.fetch_history()).events if e.HasField("activity_task_scheduled_event_attributes")]
    assert activities == ["synthesise"], "a revision does not search, extract or retrieve again"
    assert finding.citations == ["idempotency#0", "idempotency#1"] and finding.prompt_version == 2
    sent = [r.body for r in model.fake.state.journal.records() if r.path.endswith("/chat/completions")]
    assert "Cite the second source." in str(sent[-1]) and desk.ledger.count("search") == 0


async def test_the_validator_flags_empty_long_and_uncited_findings(lab, desk):
    from labs.research.activities import MAX_FINDING_CHARS, Finding, Passage
    from labs.research.workflows import Validator

    p = [Passage("a#0", "a", "text", 0.1)]
    findings = [Finding("ok", "Fine [1].", ["a#0"], p), Finding("empty", "", [], p),
                Finding("long", "x" * (MAX_FINDING_CHARS + 1) + " [1]", ["a#0"], p),
                Finding("invented", "See [7].", ["?7"], p)]
    task_queue = f"research-{uuid.uuid4().hex[:8]}"
    async with Worker(lab.client, task_queue=task_queue, build_id=build_id(__file__), workflows=[Validator]):
        verdicts = await lab.client.execute_workflow(Validator.run, findings, id=f"validator-{uuid.uuid4().hex[:8]}",
                                                     task_queue=task_queue)
    assert [v.ok for v in verdicts] == [True, False, False, False]
    assert "empty" in verdicts[1].problems[0] and "characters" in verdicts[2].problems[0]
    assert "not among the retrieved" in verdicts[3].problems[0]
