"""A slow "LLM" call and a fast tool: the two kinds of work an agent fleet has to schedule."""

from __future__ import annotations

import asyncio

from temporalio import activity

LLM_SECONDS = 0.25


@activity.defn
async def call_llm(prompt: str) -> str:
    """Slow and I/O-bound, like a model call: most of the time is waiting on the network."""
    await asyncio.sleep(LLM_SECONDS)
    return f"answer to {prompt}"


@activity.defn
async def run_tool(query: str) -> str:
    """Fast, like a lookup."""
    await asyncio.sleep(0.01)
    return f"tool result for {query}"
