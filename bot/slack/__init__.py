"""The thin edge to Slack's Web API."""
