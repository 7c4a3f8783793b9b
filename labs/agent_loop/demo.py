"""Lesson 11's script for the local model. A real model decides for itself, so then this does nothing."""

from __future__ import annotations

from lab_support.llm import Model

ANSWER = ("Durable execution records every step of the agent in an event history, so after a crash it "
          "resumes where it was. Model and tool calls run as activities and are never repeated once done.")


def script_research(model: Model, searches: int = 1) -> bool:
    """Queue the local model's turns: `searches` web searches, one page read, then the answer."""
    if model.fake is None:
        return False
    for i in range(searches):
        model.call_tool("search_web", query=f"durable execution for AI agents, part {i + 1}")
    model.call_tool("read_page", url="https://temporal.io/blog/durable-agents").say(ANSWER)
    return True
