"""Lesson 14: long conversations - one workflow per chat session, streaming, interrupts and the history budget."""
