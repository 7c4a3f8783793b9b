"""Lesson 03: durable timers - an agent that sleeps for days, survives crashes while asleep, and wakes once."""
