"""Worker for lesson 14. Run: python -m labs.conversation.worker (configured through LAB_* variables)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from .activities import activities
from .workflows import ChatSession


def worker_options(model_url: str | None, model_name: str, model_offline: bool) -> dict[str, Any]:
    """Workflows, activities and options of this lesson's worker."""
    return {
        "workflows": [ChatSession],
        "activities": activities(model_url, model_name, model_offline),
        "max_cached_workflows": 0,  # a restarted worker picks up at once (see lesson 00)
        # Heartbeats reach the server at most this far apart, so a cancel (an interrupt) reaches a
        # running model call within ~0.3 s instead of 0.8 x heartbeat timeout.
        "max_heartbeat_throttle_interval": timedelta(milliseconds=300),
    }


if __name__ == "__main__":
    from lab_support.workers import main

    main(worker_options)
