"""Workflows of lesson 02: one model call under a given retry policy; one email sent with retries."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from .activities import Email, Tools


@dataclass
class Policy:
    """A retry policy and timeout in plain numbers (so it can be a workflow input)."""

    initial_interval: float = 1.0
    backoff: float = 2.0
    maximum_attempts: int = 0  # 0 = unlimited
    start_to_close: float = 10.0

    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(initial_interval=timedelta(seconds=self.initial_interval),
                           backoff_coefficient=self.backoff, maximum_attempts=self.maximum_attempts)


@dataclass
class Ask:
    prompt: str
    policy: Policy = field(default_factory=Policy)


@workflow.defn
class AskModel:
    @workflow.run
    async def run(self, ask: Ask) -> str:
        return await workflow.execute_activity_method(
            Tools.ask_model, ask.prompt,
            start_to_close_timeout=timedelta(seconds=ask.policy.start_to_close),
            retry_policy=ask.policy.retry_policy(),
        )


@workflow.defn
class SendReport:
    @workflow.run
    async def run(self, email: Email) -> str:
        return await workflow.execute_activity_method(
            Tools.send_email, email, start_to_close_timeout=timedelta(seconds=10),
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200)),
        )
