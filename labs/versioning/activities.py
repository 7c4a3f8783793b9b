"""The research pipeline's activities (shared by every generation of the workflow)."""

from __future__ import annotations

from temporalio import activity


@activity.defn
async def search(topic: str) -> str:
    """Find material on a topic."""
    return f"3 sources on {topic}"


@activity.defn
async def fact_check(material: str) -> str:
    """New in v2: check the material before summarising it."""
    return f"{material} (checked)"


@activity.defn
async def summarize(material: str) -> str:
    """Write the summary."""
    return f"summary of {material}"


ACTIVITIES = [search, fact_check, summarize]
