"""Solution 14 - a viewer that shows each streamed reply once, even when the model call was retried."""

from __future__ import annotations

from typing import Any


class ReplyView:
    """Builds the text to show per turn from stream items (dicts as published by the chat activity)."""

    def __init__(self) -> None:
        self.replies: dict[int, str] = {}
        self.attempts: dict[int, int] = {}
        self.done: set[int] = set()

    def add(self, item: dict[str, Any]) -> None:
        """Take one stream item (in offset order) and update `replies`."""
        turn = item["turn"]
        if item.get("done"):
            self.done.add(turn)
            return
        if item["attempt"] > self.attempts.get(turn, 0):  # a retry streams the reply again from the start
            self.attempts[turn] = item["attempt"]
            self.replies[turn] = ""
        self.replies[turn] += item["text"]
