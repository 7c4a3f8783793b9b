"""Lesson 06: multi-agent systems with child workflows - planner, executors, validator, reviewer."""
