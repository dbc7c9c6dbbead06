"""Alembic migrations of PM Bot's schema (`versions/`), run from code by bot/migrate.py."""

# The revision the schema of this version is at (the newest file in versions/). `pmbot run` and
# /readyz compare the database with it without loading Alembic, which took 11 MB of every
# running process's memory for a check that finds nothing to do (issue 13). A test checks it
# against Alembic's own head.
HEAD = "0009"
