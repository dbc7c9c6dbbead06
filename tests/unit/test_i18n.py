import re
import string

import pytest

from bot.i18n import LANGUAGES, catalogue, normalise_language, t


def test_every_key_exists_in_every_language():
    en, zh = set(catalogue("en")), set(catalogue("zh-CN"))
    assert en - zh == set(), f"missing in zh-CN: {sorted(en - zh)}"
    assert zh - en == set(), f"missing in en: {sorted(zh - en)}"


@pytest.mark.parametrize("lang", LANGUAGES)
def test_placeholders_match_across_languages(lang):
    fmt = string.Formatter()
    for key, text in catalogue("en").items():
        other = catalogue(lang)[key]
        names = {f for _, f, _, _ in fmt.parse(text) if f}
        other_names = {f for _, f, _, _ in fmt.parse(other) if f}
        assert names == other_names, f"{key}: {names} != {other_names}"


def test_chinese_catalogue_is_really_chinese():
    zh = catalogue("zh-CN")
    assert re.search(r"[\u4e00-\u9fff]", zh["project.created"])
    assert t("common.weekday_0", "zh-CN") == "星期一"
    assert t("common.weekday_0", "en") == "Monday"


def test_lookup_fills_placeholders_and_normalises_language():
    assert "Acme" in t("project.updated", "en", name="Acme")
    assert normalise_language("zh-CN") == "zh-CN" and normalise_language("zh-Hans") == "zh-CN"
    # No Traditional Chinese catalogue yet: zh-TW / zh-HK read English, not Simplified Chinese.
    assert normalise_language("zh-TW") == "en" and normalise_language("zh-HK") == "en"
    assert normalise_language("fr-FR") == "en"
    with pytest.raises(KeyError):
        t("nope.missing", "en")


def test_every_key_a_mapping_names_exists_in_both_languages():
    """Keys are spelled out in bot/i18n/names.py (never built from a value): each must exist."""
    from bot.i18n import has_text, names

    for name in dir(names):
        table = getattr(names, name)
        if not name.endswith("_KEYS"):
            continue
        keys = table.values() if isinstance(table, dict) else table
        for lang in ("en", "zh-CN"):
            missing = [k for k in keys if not has_text(k, lang)]
            assert not missing, f"{name} in {lang}: {missing}"
