"""PM Bot: requirements, change requests, risks, feedback and weekly digests inside Slack."""

__version__ = "0.1.0"
