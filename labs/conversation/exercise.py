"""Exercise 14 - show each streamed reply once.

The chat activity publishes every piece of the reply to the session's stream as it arrives:
`{"turn": 3, "attempt": 1, "text": "Check "}`, and the workflow ends each turn with `{"turn": 3, "done": True}`.
When the model's stream breaks halfway, Temporal retries the activity, and attempt 2 publishes the reply
again from its first word. A viewer that just appends every piece shows "Check the Check the hanger...".

Write `ReplyView.add` so that `replies[turn]` is always the text to show for that turn: the pieces of the
newest attempt only. Save, then run the check cell in notebook 14.
"""

from __future__ import annotations

from typing import Any

from lab_support.exercises import todo


class ReplyView:
    """Builds the text to show per turn from stream items (dicts as published by the chat activity)."""

    def __init__(self) -> None:
        self.replies: dict[int, str] = {}  # turn -> text shown
        self.attempts: dict[int, int] = {}  # turn -> newest attempt seen
        self.done: set[int] = set()  # turns whose reply is complete

    def add(self, item: dict[str, Any]) -> None:
        """Take one stream item (in offset order) and update `replies`."""
        if item.get("done"):
            self.done.add(item["turn"])
            return
        # TODO: a piece from a newer attempt than the one shown starts the turn's text afresh;
        #       otherwise append the piece to the turn's text.
        todo("show the newest attempt of each turn only")
