"""Lesson 08: versioning - changing a workflow while old runs are in flight (patching, replay tests, Worker Versioning)."""
