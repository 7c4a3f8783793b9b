"""Lesson 10: workers and scaling - task queues, worker pools, concurrency limits, metrics."""
