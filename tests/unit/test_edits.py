"""Edit forms apply only what the user changed, and catch what someone else changed meanwhile."""

from bot.blocks import ids
from bot.services import edits


def test_an_untouched_field_never_undoes_a_change_made_since_the_form_opened():
    opened = edits.stamp(3, {"name": "Beta", "due_date": "2026-12-01"})
    plan = edits.plan(opened, submitted={"name": "Beta", "due_date": "2026-12-01"},
                      current={"name": "Beta", "due_date": "2026-12-15"})  # a CR moved it meanwhile
    assert plan.changes == {} and plan.conflicts == []


def test_a_touched_field_is_applied_and_a_doubly_changed_one_is_a_conflict():
    opened = edits.stamp(3, {"name": "Beta", "due_date": "2026-12-01", "progress": 10})
    plan = edits.plan(opened, submitted={"name": "Beta 2", "due_date": "2026-12-05", "progress": 10},
                      current={"name": "Beta", "due_date": "2026-12-15", "progress": 10})
    assert plan.changes == {"name": "Beta 2"}
    assert plan.conflicts == ["due_date"]


def test_without_a_stamp_every_difference_is_applied():
    plan = edits.plan(None, submitted={"a": "x", "b": [2, 1]}, current={"a": "y", "b": [1, 2]})
    assert plan.changes == {"a": "x"} and plan.conflicts == []


def test_decision_values_round_trip_and_refuse_tampering():
    assert ids.parse_decision_value(ids.decision_value(12, 3)) == (12, 3)
    assert ids.parse_decision_value("12") == (12, None)
    for bad in (None, "", "x@1", "12@", "12@x", "0@1", "-1@2", "1²@1", 12, "9" * 13):
        assert ids.parse_decision_value(bad) is None, bad
