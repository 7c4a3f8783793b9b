"""Lesson 00: the same 8-step research agent as a naive loop and as a Temporal workflow."""
