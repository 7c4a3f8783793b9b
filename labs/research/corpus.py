"""The research agent's corpus: short documents written for this lab, saved as text files and as real PDFs.

`build_corpus(folder)` writes every document (about a third of them as PDFs made with `pypdf`) plus a
`manifest.json`; nothing is downloaded. The texts are the project's own.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pypdf

from lab_support.server import LabError


@dataclass(frozen=True)
class Doc:
    id: str
    title: str
    text: str


DOCS = [
    Doc("backoff", "Exponential backoff for flaky calls",
        "When a remote call fails for a passing reason, trying again at once usually fails again. Exponential "
        "backoff waits a little after the first failure and doubles the wait after each further failure, up to a "
        "ceiling called the maximum interval. A backoff coefficient of two and a ceiling of one minute are common "
        "choices. Adding random jitter spreads the retries of many clients so that they do not all return at the "
        "same instant. A retry policy also caps the number of attempts, so a call that can never succeed stops "
        "consuming resources. In Temporal the policy is declared next to the activity call and the server keeps "
        "the schedule, so the waiting costs no worker thread."),
    Doc("rate-limits", "Rate limits, HTTP 429 and Retry-After",
        "Model providers protect their capacity with rate limits measured in requests and tokens per minute. A "
        "client over its quota receives HTTP status 429, Too Many Requests, often with a Retry-After header that "
        "says how many seconds to wait. Honouring that header is both polite and efficient: retrying sooner only "
        "earns another 429. An activity can turn the header into the next retry delay, so the workflow sleeps "
        "exactly as long as the provider asked. A storm of 429 answers during a busy hour then stretches a run "
        "instead of failing it, and the attempts are visible in the pending activity's description."),
    Doc("crash-recovery", "How a workflow survives a worker crash",
        "A worker process can die at any moment: an out of memory kill, a node drained by the scheduler, a "
        "deploy. The workflow does not live in that process. Its event history, stored by the Temporal server, "
        "records every decision and every completed activity. When another worker picks up the workflow task it "
        "replays the history to rebuild local state, skipping the activities that already completed, and "
        "continues where the dead worker stopped. An activity that was in flight is retried after its heartbeat "
        "timeout, so only that one step runs again."),
    Doc("idempotency", "Idempotent side effects and idempotency keys",
        "Durable execution guarantees that an activity completes at least once, not exactly once: a step whose "
        "result was lost in transit runs again. Side effects therefore need to be idempotent. The usual tool is "
        "an idempotency key, a value derived from the workflow id and the step, sent with the request; the "
        "receiving system records the key and ignores a second request carrying it. Database writes achieve the "
        "same with a unique constraint and an insert that does nothing on conflict. Payments, emails and "
        "published reports all deserve such a key."),
    Doc("sagas", "Sagas and compensation",
        "A business transaction that spans several services cannot hold one database lock. A saga instead runs "
        "each step as its own local transaction and registers, for every step, a compensating action that undoes "
        "it. If a later step fails, the compensations run in reverse order: the report is retracted, the booking "
        "cancelled, the charge refunded. Compensations must themselves be retried until they succeed, and they "
        "should be registered before the step runs, because a step that timed out may still have happened."),
    Doc("human-review", "Human review of agent output",
        "Agents that publish or spend money benefit from a human checkpoint. The workflow drafts its output, "
        "exposes the draft through a query, and waits for a reviewer's decision delivered as an update or a "
        "signal. An update can be validated before it is accepted, so a rejection without a comment is refused "
        "outright. A durable timer bounds the wait: when the reviewer does not answer within the escalation "
        "timeout the workflow escalates instead of waiting forever. A rejection with a comment sends the draft "
        "back for one revision."),
    Doc("timers", "Durable timers",
        "A durable timer is a sleep recorded by the server rather than by a thread. The workflow asks for a "
        "timer, the server stores its deadline, and the worker may forget all about it; when the deadline "
        "passes the server schedules a workflow task and execution resumes. Timers of a week or a month are "
        "ordinary, they survive restarts of workers and servers, and in tests a time skipping server fires them "
        "at once."),
    Doc("continue-as-new", "Keeping histories small with continue-as-new",
        "Every event a workflow produces stays in its history, and the server refuses histories beyond a size "
        "or event count limit. A workflow meant to run for ever, such as a loop that sleeps for seven days and "
        "then researches again, must therefore continue as new: it closes the current run and starts a fresh run "
        "of itself with the state it wants to keep as input. Each run's history stays bounded, and the chain of "
        "runs shares one workflow id."),
    Doc("versioning", "Changing workflow code while runs are in flight",
        "Workflow code must replay the histories of runs that started under older code. Changing the sequence of "
        "activities, timers or child workflows breaks that replay with a non-determinism error. The patch API "
        "lets new code branch on a marker: runs that recorded the marker take the new path, runs that did not "
        "keep the old one. Replay tests against committed golden histories catch an unsafe change before it "
        "reaches production, and a deprecated patch can be removed once no old run remains."),
    Doc("child-workflows", "Planner and executor child workflows",
        "A large agent task splits naturally into a planner and several executors. Each executor runs as a "
        "child workflow with its own history, its own retry behaviour and its own identity in the Web UI. The "
        "parent starts the children in parallel and awaits their results; a failed child surfaces as an error "
        "the parent can handle, for instance by starting that sub-task again with feedback. Separate histories "
        "also keep each one small."),
    Doc("heartbeats", "Heartbeats from long activities",
        "A long activity reports progress by heartbeating. The server expects a heartbeat within the heartbeat "
        "timeout; when none arrives it considers the attempt lost and schedules a retry, which is how a crashed "
        "worker is detected within seconds instead of after the whole start to close timeout. Heartbeats can "
        "carry details, such as the index of the last processed chunk, so that the next attempt resumes from "
        "there. Cancellation also reaches an activity only through its heartbeat."),
    Doc("schedules", "Schedules for recurring work",
        "A Temporal schedule starts a workflow on a calendar or at a fixed interval. It is an object of its own: "
        "it can be paused and unpaused, triggered by hand, backfilled over a past period, and described to list "
        "its upcoming action times. An overlap policy decides what happens when a run is still going at the next "
        "tick: skip it, buffer one, cancel or terminate the old run, or allow all. Compared with a workflow that "
        "sleeps in a loop, a schedule needs no continue-as-new and can be changed without touching code."),
    Doc("embeddings", "Embeddings and vector search",
        "An embedding maps a piece of text to a vector so that texts with similar meaning lie close together. "
        "Retrieval embeds the question, compares it with the vectors of stored chunks by cosine similarity, and "
        "returns the nearest ones. Without a neural model, a hashing vectoriser that counts words into a fixed "
        "number of buckets still captures shared vocabulary and serves as an offline baseline. Vector stores "
        "keep the vectors on disk with an index so that nearest neighbour queries stay fast."),
    Doc("bm25", "Lexical ranking with BM25",
        "BM25 scores a document for a query by the words they share. A rare word counts more than a common one, "
        "which is the inverse document frequency part, and repeating a word helps with diminishing returns, "
        "which is the term frequency saturation controlled by the parameter k1. Long documents are normalised "
        "by the parameter b so that they do not win merely by length. Search engines still use BM25 as a fast "
        "first stage before semantic reranking."),
    Doc("pdf-extraction", "Getting text out of PDF files",
        "A PDF stores drawing instructions rather than paragraphs. Text extraction interprets the content "
        "stream, maps glyphs to characters through the font encoding, and reassembles lines by position. "
        "Scanned pages contain only images and need optical character recognition. A damaged file, with a "
        "truncated cross reference table or a broken stream, makes the parser fail; such an error is permanent, "
        "so an extraction step should fail fast instead of retrying, and name the file that needs replacing."),
    Doc("chunking", "Chunking documents for retrieval",
        "Retrieval works on chunks rather than whole documents, because a question is usually answered by a "
        "paragraph. Chunks of fifty to a few hundred words keep enough context while staying specific. A small "
        "overlap between neighbouring chunks keeps sentences that straddle a boundary findable. Each chunk keeps "
        "the identifier of its document and its position, so that a generated answer can cite exactly where a "
        "claim comes from."),
    Doc("grounding", "Grounded answers and citations",
        "A research agent should only state what its sources support. The synthesis prompt lists the retrieved "
        "chunks with numbers and asks the model to cite them in square brackets. A validator then checks each "
        "finding: it must not be empty, it must stay within a length budget, and every citation must point to a "
        "chunk that was actually retrieved. A finding that fails goes back to its executor once, with the "
        "validator's feedback, before the draft reaches a human."),
    Doc("observability", "Metrics and observability for agents",
        "Operating agents needs numbers: workflow and activity latencies, retry counts, schedule to start "
        "latency that reveals an overloaded task queue, and failure rates per activity type. The SDK exports "
        "these as Prometheus metrics from each worker. Search attributes such as status, topic and step make "
        "runs findable, so an operator can ask which runs are waiting for review, and the event history explains "
        "any single run in full."),
    Doc("cancellation", "Cancelling a running agent",
        "Stopping an agent cleanly is a request, not a kill. Cancelling a workflow raises a cancellation error "
        "inside it at the next await, giving the code a chance to run cleanup activities such as compensations. "
        "An activity learns about the cancellation when it heartbeats. Code that swallows the cancellation error "
        "keeps running, which is occasionally useful and often a bug."),
    Doc("scaling", "Workers, task queues and concurrency limits",
        "Workers poll task queues and execute whatever work they find, so scaling out means starting more "
        "worker processes. Each worker limits how many activities and workflow tasks it runs at once; setting "
        "those limits protects a process from overload and lets the queue absorb bursts. Separate task queues "
        "route heavy work, such as embedding large documents, to machines sized for it."),
    Doc("prompt-drift", "Prompt changes and model drift",
        "A prompt is code. Changing the synthesis prompt changes every report produced afterwards, and a report "
        "assembled from findings written under two different prompts is inconsistent. Teams version prompts, "
        "record the version with each output, and roll changes out behind a switch so that runs already in "
        "progress finish with the prompt they started with. Model upgrades deserve the same care."),
    Doc("token-budgets", "Token budgets and cost control",
        "Model calls cost money in proportion to tokens. An agent controls cost by capping the number of "
        "sub-questions, the number of chunks passed to each synthesis and the length of each answer. Retries add "
        "cost too, which is why a request the provider rejected as malformed must not be retried, while a rate "
        "limit or a server error deserves another attempt after a pause."),
    Doc("freshness", "Weekly reports and data freshness",
        "A research report is only as good as the freshness of its sources. Recurring runs, for example every "
        "Monday morning, keep a report current. The run records which documents it read, so that readers can "
        "judge the age of the evidence, and a missed run, for instance during an outage, can be backfilled "
        "later for the period it should have covered."),
    Doc("secrets", "Keeping credentials out of workflows",
        "API keys belong in the worker's environment or a secret manager, never in workflow inputs, which are "
        "stored in the event history and visible to anyone who can read it. Activities read credentials at run "
        "time. A payload codec can encrypt inputs and results before they leave the worker, so that the server "
        "stores only ciphertext."),
    Doc("sourdough", "Keeping a sourdough starter alive",
        "A sourdough starter is a culture of wild yeast and lactic bacteria living in flour and water. Feed it "
        "equal weights of flour and water once or twice a day at room temperature, or once a week when it rests "
        "in the refrigerator. A healthy starter doubles within a few hours of feeding and smells pleasantly "
        "sour. Grey liquid on top means it is hungry; pour it off and feed."),
    Doc("tides", "Why the sea has two tides a day",
        "The moon pulls the ocean on the near side of the earth a little more than the earth itself, and the "
        "earth a little more than the ocean on the far side, so the water bulges on both sides. As the earth "
        "turns beneath the two bulges a coast sees two high tides a day. When sun and moon line up the tides are "
        "larger, the spring tides; at right angles they are smaller, the neap tides."),
    Doc("bicycle", "Adjusting bicycle brakes",
        "Rim brake pads should meet the rim squarely, slightly toed in at the front, and clear of the tyre. "
        "Cable tension sets how far the lever travels before the pads bite; the barrel adjuster fine tunes it. "
        "Disc brakes squeal when the rotor is contaminated with oil; clean it with alcohol and bed the pads in "
        "with a series of firm stops."),
    Doc("beekeeping", "A beekeeper's spring inspection",
        "In spring the beekeeper checks that the queen is laying, looking for eggs standing upright in the "
        "cells, and that the colony has enough stores until the first nectar flow. Queen cells along the bottom "
        "of the frames announce a swarm. Adding a super in time gives the growing colony room and discourages "
        "swarming."),
]
PDF_IDS = {"crash-recovery", "idempotency", "sagas", "schedules", "embeddings", "pdf-extraction",
           "grounding", "scaling", "freshness", "tides"}


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def _wrap(text: str, width: int = 90) -> list[str]:
    lines, line = [], ""
    for word in text.split():
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}".strip()
    return lines + ([line] if line else [])


def write_pdf(path: Path, title: str, text: str) -> Path:
    """Write a one-page PDF (Helvetica text drawn with PDF operators) using pypdf; returns `path`."""
    from pypdf import PdfWriter
    from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    font = DictionaryObject({NameObject("/Type"): NameObject("/Font"), NameObject("/Subtype"): NameObject("/Type1"),
                             NameObject("/BaseFont"): NameObject("/Helvetica"),
                             NameObject("/Encoding"): NameObject("/WinAnsiEncoding")})
    page[NameObject("/Resources")] = DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})})
    lines = [title, ""] + _wrap(text)
    body = "BT /F1 10 Tf 14 TL 60 740 Td " + " ".join(f"({_escape(l)}) Tj T*" for l in lines) + " ET"
    stream = DecodedStreamObject()
    stream.set_data(body.encode("latin-1"))
    page[NameObject("/Contents")] = writer._add_object(stream)
    with open(path, "wb") as f:
        writer.write(f)
    return path


def build_corpus(folder: str | Path, docs: list[Doc] | None = None, corrupt: str | None = None) -> Path:
    """Write the corpus into `folder` (.txt and .pdf files + manifest.json); `corrupt=<doc id>` truncates that PDF."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = []
    for doc in DOCS if docs is None else docs:
        if doc.id in PDF_IDS:
            name = f"{doc.id}.pdf"
            write_pdf(folder / name, doc.title, doc.text)
        else:
            name = f"{doc.id}.txt"
            (folder / name).write_text(f"{doc.title}\n\n{doc.text}\n")
        manifest.append({"id": doc.id, "title": doc.title, "file": name})
    if corrupt is not None:
        target = folder / f"{corrupt}.pdf"
        if not target.exists():
            raise LabError(f"{corrupt!r} is not a PDF of this corpus. Fix: pick one of {sorted(PDF_IDS)}.")
        data = target.read_bytes()
        target.write_bytes(data[: len(data) // 3])  # a truncated download: no page tree, no xref table
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=1))
    return folder


def load_manifest(folder: str | Path) -> list[dict[str, str]]:
    """The corpus's documents [{id, title, file}]; LabError if the folder holds no corpus."""
    path = Path(folder) / "manifest.json"
    if not path.exists():
        raise LabError(f"No corpus in {folder} (no manifest.json). Fix: `build_corpus({str(folder)!r})` first.")
    manifest = json.loads(path.read_text())
    if not manifest:
        raise LabError(f"The corpus in {folder} is empty. Fix: `build_corpus({str(folder)!r})` writes the lab's documents.")
    return manifest


def read_document(folder: str | Path, file: str) -> str:
    """The text of one corpus file: plain text read as is, PDFs extracted with pypdf (PdfReadError if corrupt)."""
    path = Path(folder) / file
    if path.suffix == ".pdf":
        reader = pypdf.PdfReader(path, strict=True)
        return "\n".join(page.extract_text() or "" for page in reader.pages)
    return path.read_text()
