"""Domain rules. Nothing here knows Slack exists; every function takes `session=` and only flushes."""
