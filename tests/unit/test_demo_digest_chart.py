from bot.config import load_settings
from bot.demo import run_demo


def test_demo_writes_the_digest_chart_in_english_and_chinese(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert run_demo(load_settings({}), out_dir="demo-output") == 0
    for name in ("digest-chart.png", "digest-chart-zh-CN.png"):
        png = (tmp_path / "demo-output" / name).read_bytes()
        assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 10_000
    assert "Picture written to demo-output/digest-chart.png" in capsys.readouterr().out
