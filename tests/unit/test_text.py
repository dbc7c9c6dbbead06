from bot.blocks import text

HOSTILE = ["<!channel>", "<!here>", "<!everyone>", "<@U123>", "<https://evil.example|click>", "a & b"]


def test_escape_neutralises_every_control_sequence():
    for raw in HOSTILE:
        out = text.escape(raw)
        assert "<" not in out and ">" not in out
    assert text.escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"


def test_safe_truncates_long_text_to_the_limit_with_an_ellipsis():
    out = text.safe("x" * 10_000, text.SECTION_TEXT)
    assert len(out) == text.SECTION_TEXT
    assert out.endswith("…")


def test_truncation_never_splits_an_escape_entity():
    raw = "a" * 2997 + "<b"
    out = text.safe(raw, 3000)
    assert len(out) <= 3000
    assert not out.rstrip("…").endswith(("&", "&l", "&lt"))
    assert "&lt" not in out or "&lt;" in out


def test_chinese_and_emoji_are_kept_and_counted_as_characters():
    raw = "需求确认 ✅ " * 50
    out = text.plain(raw, text.BUTTON_TEXT)
    assert len(out) <= text.BUTTON_TEXT
    assert out.startswith("需求确认 ✅")


def test_plain_text_is_never_empty_and_fits():
    assert text.plain_text("", text.MODAL_TITLE)["text"] == "-"
    assert len(text.plain_text("A very long modal title indeed", text.MODAL_TITLE)["text"]) <= 24


def test_fit_blocks_summarises_what_does_not_fit():
    blocks = [{"type": "section", "text": text.mrkdwn(str(i))} for i in range(80)]
    out = text.fit_blocks(blocks, text.BLOCKS_PER_MESSAGE, "and 31 more")
    assert len(out) == 50
    assert out[-1]["type"] == "context" and "31 more" in out[-1]["elements"][0]["text"]


def test_options_are_capped_and_mentions_only_for_ids():
    opts = [text.option(f"o{i}", str(i)) for i in range(150)]
    assert len(text.fit_options(opts)) == text.OPTIONS_PER_SELECT
    assert text.mention("U123ABC") == "<@U123ABC>"
    assert text.mention("U1> <!channel") == ""
    assert text.channel_link("C1|x") == ""
