"""`pmbot demo --language zh-CN`: the whole demo in Simplified Chinese, sample data included."""

import json
import re

from bot.cli import main
from bot.demo_parts.language import SAMPLES_ZH, TITLES_ZH
from tests.unit.test_catalogue_lint import HALF_WIDTH, _prose

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_chinese_demo_shows_every_section_and_sample_in_chinese(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["demo", "--language", "zh-CN", "--out", "out"]) == 0
    shown = capsys.readouterr().out
    assert "示例项目“Acme 网上商城”" in shown
    # every section title, in Chinese; no English section title left
    titles = re.findall(r"^### (.+)$", shown, flags=re.M)
    assert len(titles) >= 10 and all(CJK.search(t) for t in titles), titles
    # the sample data too: no English sample sentence anywhere, neither printed nor in the Block Kit
    files = " ".join(p.read_text(encoding="utf-8") for p in (tmp_path / "out").glob("*.json"))
    for english in SAMPLES_ZH:
        assert english not in shown and json.dumps(english)[1:-1] not in files, english
    for words in ("周报 · Acme 网上商城", "顾客可以用支付宝和微信支付付款", "支付服务商将在我们上线前停用 v2 接口",
                  "€4,200.00", "星期五 16:00", "按计划进行"):
        assert words in shown, words
    # CLDR formats and full-width punctuation reach the demo's texts
    assert "星期一、星期二、星期三、星期四和星期五" in shown and "(s)" not in shown
    bad = [line for line in shown.splitlines() if HALF_WIDTH.search(_prose(line))]
    assert not bad, f"half-width punctuation next to Chinese in the demo: {bad}"


def test_english_demo_stays_english(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    assert main(["demo", "--out", "out"]) == 0
    shown = capsys.readouterr().out
    assert "sample project “Acme Web Shop”" in shown and "Customers can pay with Alipay and WeChat Pay" in shown
    assert not any(title in shown for title in TITLES_ZH.values())
