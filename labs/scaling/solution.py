"""Solution 10 - pool size from waves."""

from __future__ import annotations

import math


def pool_size(calls: int, seconds_per_call: float, deadline: float, per_worker: int) -> int:
    """The fewest workers that finish `calls` simultaneous calls within `deadline` seconds."""
    waves = math.floor(deadline / seconds_per_call + 1e-9)  # rounds of calls that fit in the deadline
    if waves < 1:
        raise ValueError("one call takes longer than the deadline: no pool size can meet it")
    return math.ceil(calls / (waves * per_worker))
