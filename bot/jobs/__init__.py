"""Scheduled work. The database, not the scheduler's memory, decides what is due and who sends it.

`scheduler.py` ticks every minute and runs, in order, the flows that send what is due (the same
flows the CLI verbs `pmbot digest` and `pmbot remind` run); `feedback_prompts.py` decides which
satisfaction prompts are due.
"""
