"""Exercise 10 - size a worker pool from what you measured.

Each model-call worker runs at most `per_worker` calls at once (its concurrency limit), and a call
takes `seconds_per_call`. A burst of `calls` model calls arrives at once and must all be finished
within `deadline` seconds. Write `pool_size`: the fewest workers that meet the deadline. The check
tests it on several bursts and then runs one for real with that many worker processes.
"""

from __future__ import annotations

import math  # noqa: F401

from lab_support.exercises import todo


def pool_size(calls: int, seconds_per_call: float, deadline: float, per_worker: int) -> int:
    """The fewest workers that finish `calls` simultaneous calls within `deadline` seconds."""
    # TODO: how many "waves" of calls fit in the deadline? How many calls must each wave carry?
    return todo("compute the pool size")
