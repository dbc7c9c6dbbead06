"""Scheduled work. The database, not the scheduler's memory, decides what is due and who sends it."""
