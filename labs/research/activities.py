"""The research agent's activities: plan, search, extract, retrieve, synthesise, publish (and undo), escalate.

Each activity classifies its errors for Temporal (retry, retry after a delay, or stop at once with a message
naming the fix) and writes what it did to the ledger: one row per side effect, one attempt-log row per attempt.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sqlite3
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Awaitable, Callable, TypeVar

from temporalio import activity
from temporalio.exceptions import ApplicationError

from lab_support.ledger import Ledger
from lab_support.llm import client, tls_context
from labs.retries.activities import classify_error

# Imported when the worker starts, not inside a first attempt (a slow import must not miss a heartbeat).
from .corpus import read_document
from .store import VectorStore, chunk, hash_embed

T = TypeVar("T")
EMBED_MODEL = os.environ.get("LAB_EMBED_MODEL", "text-embedding-3-small")
MAX_FINDING_CHARS = 900

PLAN_TOOL = {"type": "function", "function": {
    "name": "submit_plan", "description": "Submit the sub-questions that together answer the research topic.",
    "parameters": {"type": "object", "additionalProperties": False, "required": ["sub_questions"], "properties": {
        "sub_questions": {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 5}}}}}
PROMPTS = {
    1: "Answer the question in two sentences using only the numbered sources. Cite sources as [n].",
    2: ("Answer the question in at most three sentences using only the numbered sources. Cite every claim as [n]. "
        "If the sources do not answer it, say so."),
}


@dataclass
class PlanInput:
    topic: str
    max_questions: int = 3


@dataclass
class Hit:
    id: str
    title: str
    file: str
    score: float


@dataclass
class Document:
    id: str
    title: str
    text: str


@dataclass
class Passage:
    id: str  # chunk id "<doc>#<n>"
    doc_id: str
    text: str
    distance: float


@dataclass
class RetrieveInput:
    question: str
    documents: list[Document]
    k: int = 3


@dataclass
class SynthesisInput:
    question: str
    passages: list[Passage]
    feedback: str = ""
    prompt_version: int = 1


@dataclass
class Finding:
    question: str
    text: str
    citations: list[str]  # chunk ids the text cites ("?n" for a number that matches no passage)
    passages: list[Passage] = field(default_factory=list)
    prompt_version: int = 1


@dataclass
class Report:
    topic: str
    findings: list[Finding]
    revision: int = 0


@dataclass
class PublishInput:
    key: str  # idempotency key: the planner's workflow id
    report: Report


class ResearchActivities:
    """Activities bound to one search service, corpus, vector store, reports database, model and ledger."""

    def __init__(self, ledger: str, search_url: str, corpus: str, store: str, reports_db: str,
                 model_url: str | None, model_name: str, model_offline: bool,
                 pace: dict[str, float] | None = None, fail_announce: bool = False, flaky_retrieve: int = 0) -> None:
        self.ledger, self.search_url, self.corpus = Ledger(ledger), search_url.rstrip("/"), corpus
        self.store, self.reports_db, self.pace = store, reports_db, pace or {}
        self.model, self.model_name, self.offline = client(model_url, model_offline), model_name, model_offline
        self.fail_announce, self.flaky_retrieve = fail_announce, flaky_retrieve

    async def _attempt(self, name: str, work: Callable[[], Awaitable[T]]) -> T:
        """Run one attempt: pace it (heartbeating) if asked, log it in the attempt log with its outcome."""
        info, started = activity.info(), time.time()
        try:
            until = started + self.pace.get(name, 0.0)
            while time.time() < until:  # a stand-in for slow work, heartbeating so a crash is noticed fast
                activity.heartbeat()
                await asyncio.sleep(0.05)
            result = await work()
        except BaseException as e:
            self.ledger.record_attempt(info.workflow_id, info.activity_id, info.attempt, started,
                                       error=f"{type(e).__name__}: {e}"[:80])
            raise
        self.ledger.record_attempt(info.workflow_id, info.activity_id, info.attempt, started)
        return result

    @activity.defn(name="plan_topic")
    async def plan_topic(self, plan: PlanInput) -> list[str]:
        """Ask the model to split `topic` into sub-questions (structured output: a forced `submit_plan` call)."""
        async def work() -> list[str]:
            try:
                reply = await self.model.chat.completions.create(
                    model=self.model_name, tools=[PLAN_TOOL],
                    tool_choice={"type": "function", "function": {"name": "submit_plan"}},
                    messages=[{"role": "system", "content": f"Split the research topic into at most {plan.max_questions} "
                               "specific, self-contained sub-questions. Call submit_plan."},
                              {"role": "user", "content": plan.topic}])
            except Exception as e:  # noqa: BLE001 - classified as in lesson 02
                raise classify_error(e) from e
            questions: list[str] = []
            for call in reply.choices[0].message.tool_calls or []:
                try:
                    questions += [str(q).strip() for q in json.loads(call.function.arguments)["sub_questions"]]
                except (ValueError, KeyError, TypeError):
                    pass
            questions = [q for q in questions if q][: plan.max_questions]
            if not questions:
                raise ApplicationError(
                    f"The model could not decompose the topic {plan.topic!r} into sub-questions (no valid submit_plan "
                    "call). Fix: give a concrete topic (what, about which system), or check that the model supports "
                    "tool calls.", type="CannotDecompose", non_retryable=True)
            self.ledger.record("model", 0, "plan_topic", key=activity.info().workflow_id, attempt=activity.info().attempt)
            return questions
        return await self._attempt("plan_topic", work)

    @activity.defn(name="search")
    async def search(self, query: str) -> list[Hit]:
        """GET <search_url>/search?q=...: the best documents for `query`. 429/5xx/unreachable retry; 4xx stops."""
        import httpx

        async def work() -> list[Hit]:
            info = activity.info()
            try:
                async with httpx.AsyncClient(timeout=5.0, verify=tls_context()) as http:
                    response = await http.get(f"{self.search_url}/search", params={"q": query, "k": 3})
            except (httpx.ConnectError, httpx.ConnectTimeout) as e:
                raise ApplicationError(
                    f"The search service at {self.search_url} is unreachable ({type(e).__name__}). Fix: start it "
                    "(`SearchService(corpus).start()`) and pass its `.url` to the worker.", type="SearchUnreachable") from e
            except httpx.TimeoutException as e:
                raise ApplicationError(f"search timed out after 5 s: {e!r}", type="SearchTimeout") from e
            if response.status_code == 429:
                delay = float(response.headers.get("retry-after", 1))
                raise ApplicationError(f"search rate limited, retry after {delay:g}s", type="SearchRateLimited",
                                       next_retry_delay=timedelta(seconds=delay))
            if response.status_code >= 500:
                raise ApplicationError(f"search service error {response.status_code}", type="SearchUnavailable")
            if response.status_code >= 400:
                raise ApplicationError(f"search rejected the query ({response.status_code}): {response.text[:120]}",
                                       type="BadSearchRequest", non_retryable=True)
            hits = [Hit(**h) for h in response.json()["hits"]]
            self.ledger.record("search", len(hits), query, key=info.workflow_id, attempt=info.attempt)
            return hits
        return await self._attempt("search", work)

    @activity.defn(name="extract")
    async def extract(self, hits: list[Hit]) -> list[Document]:
        """Read the text of each hit (pypdf for PDFs). A corrupt or missing file fails at once, naming the file."""
        async def work() -> list[Document]:
            docs = []
            for hit in hits:
                try:
                    text = await asyncio.to_thread(read_document, self.corpus, hit.file)
                except Exception as e:  # noqa: BLE001 - a damaged file does not heal by retrying
                    raise ApplicationError(
                        f"Cannot read {hit.file} from the corpus ({type(e).__name__}: {str(e)[:80]}). Fix: rebuild "
                        f"the corpus (`build_corpus(folder)`) or replace {hit.file}.", type="CorruptDocument",
                        non_retryable=True) from e
                docs.append(Document(hit.id, hit.title, " ".join(text.split())))
            return docs
        return await self._attempt("extract", work)

    async def _embed(self, texts: list[str]) -> list[list[float]]:
        if self.offline:
            return [hash_embed(t) for t in texts]
        import openai

        try:
            reply = await self.model.embeddings.create(model=EMBED_MODEL, input=texts)
        except (openai.NotFoundError, openai.BadRequestError):  # this endpoint serves no embedding model
            return [hash_embed(t) for t in texts]
        except Exception as e:  # noqa: BLE001
            raise classify_error(e) from e
        return [d.embedding for d in reply.data]

    @activity.defn(name="retrieve")
    async def retrieve(self, job: RetrieveInput) -> list[Passage]:
        """Chunk and embed the documents into the vector store (idempotently), return the `k` nearest chunks."""
        async def work() -> list[Passage]:
            info = activity.info()
            if info.attempt <= self.flaky_retrieve:  # fault injection: the embedding backend is busy
                raise ApplicationError(f"embedding backend busy (attempt {info.attempt})", type="EmbeddingBusy")
            chunks = [c for d in job.documents for c in chunk(d.id, f"{d.title}. {d.text}")]
            activity.heartbeat("chunked")
            vectors = await _heartbeating(self._embed([c.text for c in chunks] + [job.question]))
            activity.heartbeat("embedded")

            def store_and_query() -> list[Passage]:
                store = VectorStore(self.store, len(vectors[-1]))
                try:
                    store.add(chunks, vectors[:-1])
                    hits = store.query(vectors[-1], job.k, doc_ids=[d.id for d in job.documents])
                finally:
                    store.close()
                return [Passage(c.id, c.doc_id, c.text, round(dist, 4)) for c, dist in hits]

            passages = await _heartbeating(asyncio.to_thread(store_and_query))
            self.ledger.record("retrieve", len(passages), job.question, key=info.workflow_id, attempt=info.attempt)
            return passages
        return await self._attempt("retrieve", work)

    @activity.defn(name="synthesise")
    async def synthesise(self, job: SynthesisInput) -> Finding:
        """One model call: answer the question from the numbered passages, citing them as [n]."""
        async def work() -> Finding:
            info = activity.info()
            sources = "\n".join(f"[{i}] {p.text}" for i, p in enumerate(job.passages, 1))
            user = f"Question: {job.question}\n\nSources:\n{sources}"
            if job.feedback:
                user += f"\n\nA reviewer asked for changes: {job.feedback}"
            try:
                reply = await self.model.chat.completions.create(
                    model=self.model_name, messages=[{"role": "system", "content": PROMPTS[job.prompt_version]},
                                                     {"role": "user", "content": user}])
            except Exception as e:  # noqa: BLE001
                raise classify_error(e) from e
            text = (reply.choices[0].message.content or "").strip()
            cited = []
            for n in dict.fromkeys(int(m) for m in re.findall(r"\[(\d+)\]", text)):
                cited.append(job.passages[n - 1].id if 1 <= n <= len(job.passages) else f"?{n}")
            self.ledger.record("model", 1, "synthesise", key=info.workflow_id, attempt=info.attempt)
            return Finding(job.question, text, cited, job.passages, job.prompt_version)
        return await self._attempt("synthesise", work)

    def _reports(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.reports_db, timeout=10, isolation_level=None)
        db.execute("CREATE TABLE IF NOT EXISTS reports (key TEXT PRIMARY KEY, topic TEXT NOT NULL, body TEXT NOT NULL, "
                   "revision INTEGER NOT NULL, published REAL NOT NULL, retracted INTEGER NOT NULL DEFAULT 0)")
        return db

    @activity.defn(name="publish")
    async def publish(self, job: PublishInput) -> str:
        """Insert the report into the reports table under its idempotency key (a retry inserts nothing twice)."""
        async def work() -> str:
            info = activity.info()
            body = json.dumps([{"question": f.question, "answer": f.text, "citations": f.citations}
                               for f in job.report.findings])
            db = self._reports()
            try:
                inserted = db.execute(
                    "INSERT OR IGNORE INTO reports (key, topic, body, revision, published) VALUES (?,?,?,?,?)",
                    (job.key, job.report.topic, body, job.report.revision, time.time())).rowcount
            except sqlite3.OperationalError as e:  # the table is not what this code expects: retrying cannot help
                raise ApplicationError(f"The reports table does not match the agent's schema ({e}). Fix: migrate the "
                                       f"table in {self.reports_db}, or point the worker at a new database.",
                                       type="SchemaError", non_retryable=True) from e
            finally:
                db.close()
            if inserted:
                self.ledger.record("publish", job.report.revision, job.report.topic, key=job.key, attempt=info.attempt)
            return job.key
        return await self._attempt("publish", work)

    @activity.defn(name="announce")
    async def announce(self, key: str) -> str:
        """The step after publishing: tell subscribers. Fails when the worker was told to (saga demos)."""
        async def work() -> str:
            if self.fail_announce:
                raise ApplicationError("the subscriber list service refused the announcement", type="AnnounceFailed",
                                       non_retryable=True)
            self.ledger.record("announce", 0, key, key=key, attempt=activity.info().attempt)
            return key
        return await self._attempt("announce", work)

    @activity.defn(name="retract")
    async def retract(self, key: str) -> str:
        """Compensation for publish: mark the report retracted (idempotent)."""
        async def work() -> str:
            db = self._reports()
            try:
                changed = db.execute("UPDATE reports SET retracted = 1 WHERE key = ? AND retracted = 0", (key,)).rowcount
            except sqlite3.OperationalError:  # a table without our schema holds nothing this agent published
                changed = 0
            finally:
                db.close()
            if changed:
                self.ledger.record("retract", 0, key, key=key, attempt=activity.info().attempt)
            return key
        return await self._attempt("retract", work)

    @activity.defn(name="escalate")
    async def escalate(self, topic: str) -> str:
        """Nobody reviewed in time: page the on-call editor (a ledger row)."""
        self.ledger.record("escalate", 0, topic, key=activity.info().workflow_id)
        return f"escalated: no review of {topic!r}"


async def _heartbeating(work: Awaitable[T], every: float = 0.2) -> T:
    """Await `work`, heartbeating meanwhile (a slow disk or embedding call must not look like a dead worker)."""
    task = asyncio.ensure_future(work)
    while not task.done():
        activity.heartbeat()
        await asyncio.wait({task}, timeout=every)
    return task.result()


def published(reports_db: str | Path) -> list[dict[str, Any]]:
    """Rows of the reports table that are published and not retracted (empty if the table does not exist)."""
    if not Path(reports_db).exists():
        return []
    db = sqlite3.connect(reports_db)
    try:
        rows = db.execute("SELECT key, topic, body, revision FROM reports WHERE retracted = 0").fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        db.close()
    return [{"key": k, "topic": t, "findings": json.loads(b), "revision": r} for k, t, b, r in rows]
