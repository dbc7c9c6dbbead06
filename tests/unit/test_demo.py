import json

from bot.config import load_settings
from bot.demo import run_demo


def test_demo_seeds_a_fresh_sample_project_and_writes_block_kit(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_demo(load_settings({}), out_dir="out") == 0
    first = capsys.readouterr().out
    assert "Acme Web Shop" in first and "Client intake message" in first
    data = json.loads((tmp_path / "out" / "intake.json").read_text())
    assert data["blocks"][0]["type"] == "section"
    # a second run starts again from a fresh database instead of failing or duplicating
    assert run_demo(load_settings({}), out_dir="out") == 0
    assert capsys.readouterr().out.count("sample project") == 1
