"""Solution 02 - classify model errors and choose the retry policy."""

from __future__ import annotations

from datetime import timedelta

import openai
from temporalio.exceptions import ApplicationError

from .workflows import Policy


def classify(error: Exception) -> Exception:
    """Return the exception the activity should raise for this `openai` error."""
    if isinstance(error, openai.RateLimitError):
        wait = min(float(error.response.headers.get("retry-after", 1)), 30.0)  # honour it, up to 30 s
        return ApplicationError("rate limited", type="RateLimited", next_retry_delay=timedelta(seconds=wait))
    if isinstance(error, (openai.InternalServerError, openai.APIConnectionError)):
        return ApplicationError(f"model unavailable: {error}", type="ModelUnavailable")
    if isinstance(error, openai.APIStatusError):
        return ApplicationError(f"rejected: {error.message}", type="BadRequest", non_retryable=True)
    return error


def policy() -> Policy:
    """Short first retry, doubling, and a cap so a dead model fails the call instead of looping."""
    return Policy(initial_interval=0.5, backoff=2.0, maximum_attempts=6, start_to_close=10)
