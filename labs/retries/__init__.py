"""Lesson 02: retries, failure classification, timeouts and idempotency for model and tool calls."""
