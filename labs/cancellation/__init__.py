"""Lesson 09: cancellation - stopping an agent cleanly, heartbeats, cleanup, graceful worker shutdown."""
