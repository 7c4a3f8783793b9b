"""What every generation shares: the input, the signal that lets a run finish, the timeouts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

CALL = {"start_to_close_timeout": timedelta(seconds=10)}


@dataclass
class Topic:
    name: str
    wait_for_publish: bool = False  # hold the run "in flight" until a `publish` signal
