"""What every generation shares: the input, the signal that lets a run finish, the timeouts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio import workflow

CALL = {"start_to_close_timeout": timedelta(seconds=10)}


@dataclass
class Topic:
    name: str
    wait_for_publish: bool = False  # hold the run "in flight" until a `publish` signal


class Pipeline:
    """The parts no generation changes: the `publish` signal, and finishing (in flight until published)."""

    def __init__(self) -> None:
        self.published = False

    @workflow.signal
    def publish(self) -> None:
        self.published = True

    async def finish(self, path: str, summary: str, topic: Topic) -> str:
        if topic.wait_for_publish:  # the run stays in flight here, after the part that changes
            await workflow.wait_condition(lambda: self.published)
        return f"{path}: {summary}"
