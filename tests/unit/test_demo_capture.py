"""`pmbot demo` shows a requirement captured from a client's message, with its receipt (issue 14)."""

import json

from bot.config import load_settings
from bot.demo import run_demo


def test_demo_shows_a_captured_requirement_and_its_receipt(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_demo(load_settings({}), out_dir="out") == 0
    shown = capsys.readouterr().out
    assert "A client's message captured with :memo:" in shown
    thread = json.loads((tmp_path / "out" / "capture-thread.json").read_text())["blocks"]
    receipt = thread[-1]["text"]["text"]
    assert receipt.startswith("Captured as *REQ-")
    assert receipt.endswith(": Could the invoice page also show our VAT number?")
    item = json.dumps(json.loads((tmp_path / "out" / "capture-item.json").read_text()))
    assert "raised by <@U0CLIENT> (client)" in item and "a message> by <@U0CLIENT>" in item
    reacted = json.loads((tmp_path / "out" / "capture-reacted.json").read_text())["blocks"]
    assert reacted[-1]["elements"][0]["text"]["text"] == "Add details"
