"""Lesson 05: continue-as-new - an always-on agent that keeps its history small and loses no signal."""
