"""A model call and an email tool, written so that Temporal owns every retry.

The `openai` client's own retries are off (`max_retries=0`): each attempt is one HTTP request, one
line in the attempt log, and counted in the history. Errors are classified here: retry, retry later
(Retry-After), or stop at once.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Callable

import openai
from temporalio import activity
from temporalio.exceptions import ApplicationError

from lab_support.ledger import Ledger
from lab_support.llm import client


# The longest Retry-After this agent honours. `next_retry_delay` has no ceiling of its own: the policy's
# maximum_interval does not cap it; only maximum_attempts or a schedule-to-close timeout ends the wait
# (temporalio/temporal PR #6063; docs.temporal.io/design-patterns/delayed-retry). A 429 with
# `Retry-After: 3600` would park the call (and the agent waiting on it) for an hour. Past the cap, retry
# sooner; a server that is still rate limiting answers with another 429, and `maximum_attempts` ends it.
MAX_RETRY_AFTER = 30.0  # seconds


def retry_after_seconds(error: openai.RateLimitError, cap: float = MAX_RETRY_AFTER) -> float:
    """The 429's Retry-After header in seconds (1 if missing or not a number), capped at `cap`."""
    try:
        asked = float(error.response.headers.get("retry-after", 1))
    except ValueError:  # an HTTP date: not worth parsing for a cap this short
        asked = cap
    return min(max(asked, 0.0), cap)


def classify_error(error: Exception) -> Exception:
    """Turn an `openai` exception into what Temporal should do about it."""
    if isinstance(error, openai.RateLimitError):  # 429: retry, but not before the server says (up to a cap)
        retry_after = retry_after_seconds(error)
        asked = error.response.headers.get("retry-after")
        return ApplicationError(f"rate limited, retry after {retry_after:g}s (Retry-After: {asked})",
                                type="RateLimited", next_retry_delay=timedelta(seconds=retry_after))
    if isinstance(error, (openai.InternalServerError, openai.APIConnectionError)):  # 5xx, network, timeout
        return ApplicationError(f"model unavailable: {error}", type="ModelUnavailable")
    if isinstance(error, openai.APIStatusError):  # other 4xx: our request is wrong, retrying cannot help
        return ApplicationError(f"request rejected ({error.status_code}): {error.message}", type="BadRequest",
                                non_retryable=True)
    return error


@dataclass
class Email:
    to: str
    body: str
    key_from: str = ""  # idempotency key: "" none, "run" run id + activity id, "workflow" workflow id + activity id


class Tools:
    """Activities bound to one model endpoint and one ledger."""

    def __init__(self, model_url: str | None, model_name: str, model_offline: bool, ledger: str,
                 classify: Callable[[Exception], Exception] = classify_error) -> None:
        self.model = client(model_url, model_offline)
        self.model_name, self.ledger, self.classify = model_name, Ledger(ledger), classify

    @activity.defn(name="ask_model")
    async def ask_model(self, prompt: str) -> str:
        """One chat completion. Every attempt is logged with its outcome."""
        info, started = activity.info(), time.time()
        log = partial(self.ledger.record_attempt, info.workflow_id, info.activity_id, info.attempt, started)
        try:
            reply = await self.model.chat.completions.create(
                model=self.model_name, messages=[{"role": "user", "content": prompt}])
        except asyncio.CancelledError:  # the worker gave up on this attempt (start-to-close timeout)
            log(error="timed out")
            raise
        except Exception as e:  # noqa: BLE001 - classified below
            decision = self.classify(e)
            log(error=str(decision)[:80])
            raise decision from e
        log()
        return reply.choices[0].message.content or ""

    @activity.defn(name="send_email")
    async def send_email(self, email: Email) -> str:
        """Send through the "mail API" (the ledger). Attempt 1 loses the response after the send."""
        info = activity.info()
        run_or_workflow = {"run": info.workflow_run_id, "workflow": info.workflow_id, "": ""}[email.key_from]
        key = f"{run_or_workflow}/{info.activity_id}" if run_or_workflow else ""
        if not (key and any(self.ledger.frame("mail")["key"] == key)):  # the mail API de-duplicates keys
            self.ledger.record("mail", info.attempt, f"{email.to}: {email.body}", key=key, attempt=info.attempt)
        if info.attempt == 1:
            raise ApplicationError("connection reset before the mail API answered", type="ConnectionReset")
        return f"sent to {email.to}"
