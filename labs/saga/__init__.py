"""Lesson 07: sagas - an agent that books a trip and undoes what it did when a later step fails."""
