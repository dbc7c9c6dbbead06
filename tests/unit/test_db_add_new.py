"""A new row stored with one prepared INSERT … RETURNING id (bot/db.py `add_new`), left in the
session as a flush would leave it: what the row holds is what the object holds (the model's
Python defaults for the columns not given), and a later change to the object is flushed as an
UPDATE."""

from __future__ import annotations

import pytest
from sqlalchemy import bindparam, event, update
from sqlmodel import select

from bot.db import Linked, add_new, run_linked, session_scope, tables_written
from bot.models import ActivityLog, Requirement
from bot.services import activity


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


def test_a_linked_row_is_stored_with_the_new_row_in_one_statement_on_postgresql(engine, make_project, clock):
    """The activity-log entry of a new requirement (`Linked`): on PostgreSQL in the requirement's
    own INSERT (a data-modifying WITH, one round trip), on SQLite by a second INSERT; either
    way the entry names the new row's id and holds exactly the values given."""

    project = make_project()
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        statements.append(" ".join(statement.split()).upper())

    entry = activity.entry(clock, team_id=project.team_id, project_id=project.id, actor="U0PM", action="created",
                           entity_type="requirement", after={"title": "Export <as> CSV", "raised_by_client": False})
    event.listen(engine, "before_cursor_execute", seen)
    try:
        with session_scope(engine) as s:
            req = add_new(s, Requirement, linked=Linked(activity.TABLE, entry, "entity_id"), project_id=project.id,
                          title="Export <as> CSV", raised_by="U0PM", created_at=clock.now(), updated_at=clock.now())
            assert req.id is not None and s.get(Requirement, req.id) is req
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    writes = [st for st in statements if st.startswith(("INSERT", "WITH"))]
    if engine.dialect.name == "postgresql":
        assert len(writes) == 1 and writes[0].startswith("WITH") and "INSERT INTO ACTIVITYLOG" in writes[0]
    else:
        assert [w.split()[2] for w in writes] == ["REQUIREMENT", "ACTIVITYLOG"]
    with session_scope(engine) as s:
        [log] = s.exec(select(ActivityLog).where(ActivityLog.entity_type == "requirement",
                                                 ActivityLog.entity_id == req.id)).all()
        assert (log.team_id, log.project_id, log.actor_user_id, log.action, log.before, log.after,
                log.on_behalf_of_client, log.created_at) == (
            project.team_id, project.id, "U0PM", "created", None,
            {"title": "Export <as> CSV", "raised_by_client": False}, False, clock.now())
        assert s.get(Requirement, req.id).title == "Export <as> CSV"


def test_an_update_with_its_linked_row_stores_that_row_only_when_the_update_went_through(engine, make_project,
                                                                                        clock):
    """`run_linked` with a conditional UPDATE (a decision and its activity-log entry): the row
    comes back as it is now, and the entry is stored with it; an UPDATE that matched nothing
    returns None and stores no entry. On PostgreSQL one statement each, which says it writes
    both tables (a unit's listeners read that: `tables_written`)."""


    project = make_project()
    table = Requirement.__table__
    statement = (update(table).where(table.c.id == bindparam("w_id"), table.c.status == "proposed")
                 .values(status="confirmed", version=table.c.version + 1).returning(*table.c))
    written: list[tuple[str, ...]] = []

    with session_scope(engine) as s:
        req = add_new(s, Requirement, project_id=project.id, title="Export", raised_by="U0PM",
                      created_at=clock.now(), updated_at=clock.now())

    def seen(state):
        written.append(tables_written(state))

    def confirm() -> object:
        entry = activity.entry(clock, team_id=project.team_id, project_id=project.id, actor="U0CLIENT",
                               action="confirmed", entity_type="requirement", before={"status": "proposed"},
                               after={"status": "confirmed"})
        with session_scope(engine) as s:
            event.listen(s, "do_orm_execute", seen)
            return run_linked(s, statement, {"w_id": req.id}, Linked(activity.TABLE, entry, "entity_id"))

    row = confirm()
    assert row is not None and (row.id, row.status, row.version) == (req.id, "confirmed", 2)
    assert confirm() is None  # confirmed already: nothing matched
    with session_scope(engine) as s:
        logged = s.exec(select(ActivityLog).where(ActivityLog.entity_type == "requirement",
                                                  ActivityLog.entity_id == req.id)).all()
        assert [(e.action, e.before, e.after) for e in logged] == [
            ("confirmed", {"status": "proposed"}, {"status": "confirmed"})]
    if engine.dialect.name == "postgresql":
        assert written == [("requirement", "activitylog")] * 2
    else:
        assert written == [("requirement",), ("activitylog",), ("requirement",)]
