"""Lesson 12: the capstone - a production research agent (planner, executors, validator, review, publish) under fire."""
