import json

from bot.config import load_settings
from bot.demo import run_demo


def test_demo_shows_milestones_and_change_requests(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_demo(load_settings({}), out_dir="out") == 0
    out = capsys.readouterr().out
    assert "Milestones (/milestone list)" in out
    for status in ("Late", "At risk", "On track", "Done"):
        assert status in out
    assert "CR-1: Add PayPal at checkout" in out and "Payment integration: " in out
    approval = json.loads((tmp_path / "out" / "change-approval.json").read_text())
    shown = json.dumps(approval)
    assert "change_approve" in shown and "4,200" not in shown  # the internal cost stays internal
