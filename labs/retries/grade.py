"""Check for exercise 02: the learner's classifier and policy against two real fault scripts."""

from __future__ import annotations

import tempfile
import time
import uuid
from pathlib import Path
from types import ModuleType

from temporalio.client import Client, WorkflowFailureError
from temporalio.worker import Worker

from lab_support.exercises import NotAttempted, Verdict, not_attempted, not_yet, passed
from lab_support.ledger import Ledger
from lab_support.llm import start_model
from lab_support.workers import build_id, wait_result

from .activities import Tools
from .workflows import Ask, AskModel, Policy

HINTS = [
    "429: `ApplicationError(..., next_retry_delay=timedelta(seconds=float(error.response.headers['retry-after'])))`.",
    "5xx and connection errors: raise a plain (retryable) `ApplicationError`.",
    "Other `openai.APIStatusError`s: `ApplicationError(..., non_retryable=True)` - a retry sends the same bad request.",
    "Policy: an initial interval around 0.5-1 s with backoff 2 fits 10 s; `maximum_attempts` of 5-10 stops a dead model.",
    "Cap the wait: `min(float(error.response.headers['retry-after']), 30.0)` seconds.",
]
MAX_HONOURED = 60.0  # seconds: the longest Retry-After wait the check accepts


def _rate_limited(retry_after: str) -> Exception:
    """A real `openai.RateLimitError` as the client raises it for a 429 carrying `Retry-After`."""
    import httpx
    import openai

    request = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")
    response = httpx.Response(429, headers={"retry-after": retry_after}, request=request)
    return openai.RateLimitError("Rate limit reached", response=response, body=None)


async def _run(client: Client, module: ModuleType, policy: Policy, script) -> tuple[object, list, float]:
    model = start_model(fake=True)
    ledger = Ledger(Path(tempfile.mkdtemp()) / "attempts.db")
    script(model)
    task_queue = f"check-retries-{uuid.uuid4().hex[:8]}"
    tools = Tools(model.base_url, model.name, True, str(ledger.path), classify=module.classify)
    started = time.monotonic()
    try:
        async with Worker(client, task_queue=task_queue, build_id=build_id(__file__),
                          workflows=[AskModel], activities=[tools.ask_model]):
            handle = await client.start_workflow(AskModel.run, Ask("check", policy), id=f"check-ask-{uuid.uuid4().hex[:8]}",
                                                 task_queue=task_queue)
            try:
                outcome: object = await wait_result(handle, timeout=20)
            except (WorkflowFailureError, TimeoutError) as e:
                outcome = e
                if isinstance(e, TimeoutError):
                    await handle.terminate("check timed out")
        attempts = ledger.attempts(handle.id).to_dict("records")
        return outcome, attempts, time.monotonic() - started
    finally:
        model.stop()


def _failure_text(e: BaseException) -> str:
    parts = []
    while e is not None:
        parts.append(str(e))
        e = e.__cause__ or getattr(e, "cause", None)
    return " / ".join(parts)


async def grade(client: Client, module: ModuleType) -> Verdict:
    """Script A must recover in 4 attempts honouring Retry-After; Retry-After 3600 is capped; script B fails after 1 attempt."""
    try:
        policy = module.policy()
    except NotAttempted:
        return not_attempted("retries")
    if not isinstance(policy, Policy):
        return not_yet(f"`policy()` returned {type(policy).__name__}, not a Policy.", HINTS[3])

    outcome, attempts, took = await _run(
        client, module, policy, lambda m: (m.rate_limit(1, retry_after=2), m.server_error(2), m.say("the answer")))
    text = _failure_text(outcome) if isinstance(outcome, BaseException) else ""
    if "TODO:" in text:
        return not_attempted("retries")
    if isinstance(outcome, BaseException):
        if len(attempts) == 1:
            return not_yet(f"Script A stopped after its first attempt (the 429): {text[:160]}", HINTS[0])
        return not_yet(f"Script A did not recover: after {len(attempts)} attempts: {text[:160]}", HINTS[1])
    if len(attempts) != 4:
        return not_yet(f"Script A took {len(attempts)} attempts; 4 is the fewest possible.", HINTS[1])
    waited = attempts[1]["start"] - attempts[0]["end"]
    if waited < 1.9:
        return not_yet(f"After the 429 your call retried after {waited:.1f} s; the server asked for 2 s.", HINTS[0])
    if took > 10:
        return not_yet(f"Script A took {took:.1f} s; the budget is 10 s. Retry sooner.", HINTS[3])
    if policy.maximum_attempts == 0 or policy.maximum_attempts > 20:
        return not_yet("The policy retries (almost) forever: a model that stays down would hang the agent.", HINTS[3])

    decision = module.classify(_rate_limited("3600"))
    delay = getattr(decision, "next_retry_delay", None)
    if delay is not None and delay.total_seconds() > MAX_HONOURED:
        return not_yet(f"A 429 with `Retry-After: 3600` would wait {delay.total_seconds():.0f} s before the next "
                       f"attempt: cap it (at most {MAX_HONOURED:.0f} s).", HINTS[4])

    outcome, attempts, _ = await _run(client, module, policy, lambda m: (m.bad_request(1), m.say("a retried answer")))
    if not isinstance(outcome, BaseException) or len(attempts) != 1:
        return not_yet(f"Script B's 400 was retried ({len(attempts)} attempts). A bad request stays bad.", HINTS[2])
    return passed(f"Script A: 4 attempts in {took:.1f} s, waiting {waited:.1f} s after the 429. "
                  "Script B: failed after 1 attempt.")
