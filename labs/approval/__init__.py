"""Lesson 04: human in the loop - signals, queries, updates with validators, signal-with-start, timeouts."""
