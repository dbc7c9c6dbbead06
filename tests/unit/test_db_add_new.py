"""A new row stored with one prepared INSERT … RETURNING id (bot/db.py `add_new`), left in the
session as a flush would leave it: what the row holds is what the object holds (the model's
Python defaults for the columns not given), and a later change to the object is flushed as an
UPDATE."""

from __future__ import annotations

import pytest
from sqlalchemy import event
from sqlmodel import select

from bot.db import add_new, session_scope
from bot.models import Requirement


def test_a_new_row_is_one_insert_and_the_object_lives_on_in_the_session(engine, make_project, clock):
    project = make_project()
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(statement.split()[0].upper())

    event.listen(engine, "before_cursor_execute", seen)
    try:
        with session_scope(engine) as s:
            req = add_new(s, Requirement, project_id=project.id, title="Export as CSV", raised_by="U0PM",
                          created_at=clock.now(), updated_at=clock.now())
            assert isinstance(req, Requirement) and req.id is not None and req in s and not s.new and not s.dirty
            assert s.get(Requirement, req.id) is req  # the session's own object for the row
            assert (req.version, req.description, req.priority, req.status, req.source_ts) == (
                1, "", "should", "proposed", None)  # the model's defaults, as its constructor gives them
            first = list(statements)
            req.title = "Export as CSV and PDF"  # changed after: flushed with the commit
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert first[-1] == "INSERT" and first.count("INSERT") == 1
    assert statements[len(first):].count("UPDATE") == 1
    with session_scope(engine) as s:
        row = s.exec(select(Requirement).where(Requirement.id == req.id)).one()
        assert (row.title, row.version, row.status, row.priority, row.project_id) == (
            "Export as CSV and PDF", 2, "proposed", "should", project.id)  # the change bumped version 1
        assert row.created_at == clock.now()


def test_what_has_no_default_must_be_given_and_unknown_columns_are_refused(engine, make_project, clock):
    project = make_project()
    with session_scope(engine) as s:
        with pytest.raises(TypeError, match=r"Requirement\.title has no default"):
            add_new(s, Requirement, project_id=project.id, raised_by="U0PM", created_at=clock.now())
        with pytest.raises(TypeError, match="no column"):
            add_new(s, Requirement, project_id=project.id, title="x", raised_by="U0PM", colour="red")
    with session_scope(engine) as s:
        assert s.exec(select(Requirement).where(Requirement.project_id == project.id)).all() == []
