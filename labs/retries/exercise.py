"""Exercise 02 - classify model errors and choose the retry policy.

The check runs one model call (the `AskModel` workflow) against two fault scripts:
  A. 429 with `Retry-After: 2`, then 500, 500, then an answer: it must succeed on attempt 4, must
     wait at least the 2 s the server asked for, and must finish within 10 s.
  B. 400 (a bad request): it must fail after exactly 1 attempt.
  C. A 429 with `Retry-After: 3600` must not park the call for an hour: honour the header up to a cap
     (at most 60 s).
Replace the `todo(...)` placeholders, save, then run the check cell in notebook 02.
"""

from __future__ import annotations

from datetime import timedelta  # noqa: F401 - for next_retry_delay

import openai  # noqa: F401 - its exception classes tell the errors apart
from temporalio.exceptions import ApplicationError  # noqa: F401

from lab_support.exercises import todo

from .workflows import Policy


def classify(error: Exception) -> Exception:
    """Return the exception the activity should raise for this `openai` error."""
    # TODO 1: a 429 (openai.RateLimitError) is retryable, but not before its Retry-After header
    #         (error.response.headers["retry-after"], in seconds): see ApplicationError(next_retry_delay=...).
    #         Cap it (at most 60 s): next_retry_delay has no ceiling — the policy's maximum_interval does not
    #         cap it; only maximum_attempts or a schedule-to-close timeout ends the wait (temporalio/temporal
    #         PR #6063; docs.temporal.io/design-patterns/delayed-retry) — and one "Retry-After: 3600" would
    #         otherwise park the agent for an hour.
    # TODO 2: a 5xx (openai.InternalServerError) or a network error (openai.APIConnectionError) is retryable.
    # TODO 3: any other HTTP error (openai.APIStatusError) means our request is wrong: do not retry it.
    return todo("classify 429, 5xx and other 4xx errors")


def policy() -> Policy:
    """The retry policy and timeout for the model call."""
    # TODO 4: choose initial_interval, backoff and maximum_attempts so that script A finishes in
    #         under 10 s, and a model that stays down is not retried forever.
    return todo("return a Policy(...)")
