"""Lesson 13: observe and operate a live agent - time travel, rerun from a step, pause, traces, find runs."""
