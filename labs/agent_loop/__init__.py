"""Lesson 11: the durable agent loop - a tool-calling agent as a workflow, by hand and with the OpenAI Agents SDK."""
