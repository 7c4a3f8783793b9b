"""Lesson 01: workflows vs activities, event histories and deterministic replay."""
