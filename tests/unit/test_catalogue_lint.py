"""Lint of every text catalogue: plurals, CLDR names, the glossary, the register, punctuation and
the buttons texts name. Globs ALL TOML files under bot/i18n/locales/, so a catalogue added later
is held to the same rules."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest
from babel import Locale

from bot.i18n import formatting, is_plural_table

ROOT = Path(__file__).resolve().parents[2]
LOCALES = ROOT / "bot" / "i18n" / "locales"
GLOSSARY = tomllib.loads((ROOT / "bot" / "i18n" / "glossary.toml").read_text(encoding="utf-8"))
CATALOGUE_FILES = sorted(LOCALES.glob("**/*.toml"))


def _walk(prefix: str, table: dict, out: list[tuple[str, str]]) -> None:
    for key, value in table.items():
        full = f"{prefix}.{key}"
        if isinstance(value, dict):
            _walk(full, value, out)  # plural forms included, as `<key>.<category>`
        else:
            out.append((full, str(value)))


def _entries(lang: str) -> list[tuple[str, str]]:
    """(key, text) of every string in every TOML file of `lang`, each plural form on its own."""
    out: list[tuple[str, str]] = []
    for path in CATALOGUE_FILES:
        if path.parent.name == lang:
            _walk(path.stem, tomllib.loads(path.read_text(encoding="utf-8")), out)
    return out


def _tables(lang: str) -> list[tuple[str, object]]:
    out = []
    for path in CATALOGUE_FILES:
        if path.parent.name == lang:
            for key, value in tomllib.loads(path.read_text(encoding="utf-8")).items():
                out.append((f"{path.stem}.{key}", value))
    return out


EN, ZH = _entries("en"), _entries("zh-CN")
CJK = r"\u3400-\u9fff\uf900-\ufaff"
CJK_PUNCT = r"\u3000-\u303f\uff01-\uff0f\uff1a-\uff1f“”‘’…—"


def test_the_glob_sees_every_catalogue_of_both_languages():
    langs = {p.parent.name for p in CATALOGUE_FILES}
    assert langs == {"en", "zh-CN"}, f"a catalogue outside en/zh-CN: {langs}"
    assert {p.name for p in CATALOGUE_FILES if p.parent.name == "en"} == \
        {p.name for p in CATALOGUE_FILES if p.parent.name == "zh-CN"}
    assert len(EN) > 500 and len(ZH) > 500


# --- plurals -------------------------------------------------------------------------------------

@pytest.mark.parametrize("lang,entries", [("en", EN), ("zh-CN", ZH)])
def test_no_bracketed_plural_anywhere(lang, entries):
    """"5 requirement(s)" never: a text that counts has plural forms."""
    bad = [(k, v) for k, v in entries if re.search(r"\w\((?:s|es|ies)\)", v)]
    assert not bad, f"'(s)' plurals in {lang}: {bad}"


def test_english_counts_use_plural_forms():
    """A number placeholder followed by a plural noun is a plural table ({one, other})."""
    counted = re.compile(r"\{(?:count|days|answers)\}(?: working)? [a-z]+s\b")
    bad = [k for k, v in _tables("en") if isinstance(v, str) and counted.search(v)]
    assert not bad, f"counts without plural forms: {bad}"


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_plural_tables_use_the_languages_cldr_categories(lang):
    tags = set(formatting.locale_of(lang).plural_form.tags) | {"other"}
    for key, value in _tables(lang):
        if isinstance(value, dict) and ({"one", "other"} & set(value)):
            assert is_plural_table(value), f"{key}: not a plural table {sorted(value)}"
            assert set(value) <= tags, f"{key}: {sorted(set(value) - tags)} is no plural category of {lang}"
            assert set(value) == tags, f"{key}: needs every category of {lang}: {sorted(tags)}"


def test_plural_forms_are_chosen_by_cldr_rules():
    from bot.i18n import t

    assert t("requirements.doc_count", "en", count=1) == "1 requirement"
    assert t("requirements.doc_count", "en", count=5) == "5 requirements"
    assert t("requirements.doc_count", "en", count=0) == "0 requirements"
    assert t("requirements.doc_count", "zh-CN", count=1) == "共 1 条需求"
    assert t("feedback.list_prompt", "en", date="d", question="q", average=4, answers=1).endswith("1 answer")
    assert t("reminders.cr_assess", "en", title="X", days=1).endswith("1 working day for its assessment.")


# --- no hand-built month or weekday names --------------------------------------------------------

def _cldr_names() -> set[str]:
    names: set[str] = set()
    for code in ("en", "zh_Hans_CN"):
        loc = Locale.parse(code)
        for table in (loc.days, loc.months):
            for context in ("format", "stand-alone"):
                for width in ("wide", "abbreviated", "short"):
                    names |= {str(v) for v in table.get(context, {}).get(width, {}).values()}
    names |= {"星期天", "周天", "礼拜一", "礼拜天"}
    return {n for n in names if len(n) > 1}


NAMES = _cldr_names()


@pytest.mark.parametrize("lang,entries", [("en", EN), ("zh-CN", ZH)])
def test_no_catalogue_holds_a_month_or_weekday_name(lang, entries):
    bad = [(k, v) for k, v in entries if v.strip() in NAMES or re.search(r"\.(weekday|month)(_short)?_\d+$", k)]
    assert not bad, f"hand-built month/weekday names in {lang} (use bot/i18n/formatting.py): {bad}"


def _python_files() -> list[Path]:
    return [p for p in (ROOT / "bot").rglob("*.py") if "migrations" not in p.parts]


def test_no_code_spells_a_month_or_weekday_name():
    bad = []
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip() in NAMES:
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and re.search(r"%[aAbB]", node.value):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno} strftime name {node.value!r}")
    assert not bad, f"hand-built names (use bot/i18n/formatting.py): {bad}"


# --- the glossary --------------------------------------------------------------------------------

def _catalogue_text(lang: str, key: str) -> str | None:
    found = [v for k, v in (EN if lang == "en" else ZH) if k == key or k.startswith(key + ".")]
    return " ".join(found) if found else None


@pytest.mark.parametrize("term", GLOSSARY["term"], ids=lambda t: t["concept"][:40])
def test_every_entry_follows_the_glossary(term):
    for lang, entries, field in (("en", EN, "en_forbidden"), ("zh-CN", ZH, "zh_forbidden")):
        for variant in term.get(field, []):
            bad = [k for k, v in entries if variant in v]
            assert not bad, f"{lang}: {variant!r} is not our term for {term['concept']!r} ({term[lang[:2]]}): {bad}"
    for key in term.get("keys", []):
        zh, en = _catalogue_text("zh-CN", key), _catalogue_text("en", key)
        assert zh is not None and en is not None, f"glossary names a missing key {key}"
        assert any(part.strip() in zh for part in term["zh"].split("/")), f"{key}: {zh!r} should say {term['zh']}"
        assert any(part.strip().lower() in en.lower() for part in term["en"].split("/")), \
            f"{key}: {en!r} should say {term['en']}"


def test_one_register_in_chinese():
    for word in GLOSSARY["register"]["zh_forbidden"]:
        bad = [(k, v) for k, v in ZH if word in v]
        assert not bad, f"{word!r} in Chinese texts (the register is 您 for everyone, see glossary): {bad}"


def test_one_quote_style_in_chinese():
    bad = [(k, v) for k, v in ZH if any(q in v for q in GLOSSARY["punctuation"]["zh_forbidden"])]
    assert not bad, f"Chinese texts quote with “”: {bad}"
    straight = re.compile(rf"[{CJK}]\"|\"[{CJK}]|[{CJK}]'|'[{CJK}]")
    bad = [(k, v) for k, v in ZH if straight.search(v)]
    assert not bad, f"straight quotes next to Chinese text: {bad}"


def _prose(text: str) -> str:
    """What a reader sees as punctuation: without code spans, emoji codes, links and placeholders."""
    text = re.sub(r"`[^`]*`", "X", text)
    text = re.sub(r":[a-z0-9_+\-]+:", "", text)
    text = re.sub(r"<[^>]*>", "X", text)
    return re.sub(r"\{[^}]*\}", "X", text)


HALF_WIDTH = re.compile(rf"[{CJK}{CJK_PUNCT}] *[(),:;]|[(),:;] *[{CJK}{CJK_PUNCT}]")


def test_no_half_width_punctuation_next_to_chinese():
    bad = [(k, v) for k, v in ZH if HALF_WIDTH.search(_prose(v))]
    assert not bad, f"half-width ( ) , : ; next to Chinese text: {bad}"


def test_the_lint_itself_catches_the_known_mistakes():
    for wrong in ("时区 (Europe/Berlin)", "星期一, 星期二", "必须有（Must） (1)", "项目A; 项目B", "注意:请"):
        assert HALF_WIDTH.search(_prose(wrong)), wrong
    for fine in ("时区（Europe/Berlin）", ":warning: 请注意", "`/req list [状态]` — 列表", "{name}（{count}）"):
        assert not HALF_WIDTH.search(_prose(fine)), fine


# --- every button a text names exists with that label --------------------------------------------

BUTTON_KEY = re.compile(
    r"^(?:[a-z_]+\.(?:button_\w+|\w+_button|act_\w+|preview_post_now|preview_add_note|preview_skip|late_post|late_skip"
    r"|resolve|add_comment|post_anyway|snooze|refresh)|intake\.\w+)$")


def _labels(entries: list[tuple[str, str]]) -> set[str]:
    return {v for k, v in entries if BUTTON_KEY.match(k)}


def test_button_label_keys_are_used_by_the_code():
    source = "\n".join(p.read_text(encoding="utf-8") for p in _python_files())
    unused = [k for k, _ in EN if BUTTON_KEY.match(k) and k not in source and f'"{k.split(".", 1)[1]}"' not in source]
    assert not unused, f"button labels no builder uses: {unused}"


EN_NAMED = [re.compile(r"(?:press|click(?: on)?|choose|tap|use)\s+(?:the\s+)?\*([^*{}\n]+)\*"
                       r"(?:\s+or\s+\*([^*{}\n]+)\*)?"),
            re.compile(r"\*([^*{}\n]+)\*\s+button"),
            re.compile(r"(?:please|\bor|'s)\s+\*([^*{}\n]+)\*"),
            re.compile(r"\*([^*{}\n]+)\*\s+if you")]
ZH_NAMED = [re.compile(r"(?:点击|点按|按下|使用)[^“”。；\n]{0,10}?“([^“”{}\n]+)”(?:或“([^“”{}\n]+)”)?"),
            re.compile(r"“([^“”{}\n]+)”按钮")]


def _named(text: str, patterns: list[re.Pattern[str]]) -> set[str]:
    out: set[str] = set()
    for pattern in patterns:
        for match in pattern.finditer(text):
            out |= {g for g in match.groups() if g}
    return out


@pytest.mark.parametrize("lang,entries,patterns", [("en", EN, EN_NAMED), ("zh-CN", ZH, ZH_NAMED)])
def test_every_button_a_text_names_exists_with_that_label(lang, entries, patterns):
    labels = _labels(entries)
    named = {(k, label) for k, v in entries for label in _named(v, patterns)}
    assert len(named) >= 5, "the texts that name buttons were not found"
    bad = sorted((k, label) for k, label in named if label not in labels)
    assert not bad, f"{lang} texts name buttons that do not exist with that label: {bad}"


def test_the_nudge_names_the_real_request_changes_button():
    from bot.i18n import t

    label = t("requirements.button_request_changes", "zh-CN")
    assert f"“{label}”" in t("reminders.nudge_requirement", "zh-CN", approvers="", days=3)
    assert f"*{t('requirements.button_request_changes', 'en')}*" in t("reminders.nudge_requirement", "en",
                                                                        approvers="", days=3)


ZH_BOLD_BUTTON = re.compile(r"(?:点击|点按|按下|使用|选择|标记为|或)[^*。；\n]{0,10}?\*([^*{}\n]+)\*"
                            r"|\*([^*{}\n]+)\*\s*(?:按钮|或)")


def test_chinese_texts_name_buttons_in_quotes_not_in_bold():
    """“确认”, never *确认*: one quote style for a button's label in Chinese (see the glossary)."""
    labels = _labels(ZH)
    bad = sorted((k, g) for k, v in ZH for m in ZH_BOLD_BUTTON.finditer(v)
                 for g in m.groups() if g and g.strip() in labels)
    assert not bad, f"Chinese texts naming a button in bold instead of “”: {bad}"


def test_the_bold_button_lint_catches_the_old_style():
    found = [g for m in ZH_BOLD_BUTTON.finditer("只需点击上方的 *确认* 或 *请求修改* 即可") for g in m.groups() if g]
    assert found == ["确认", "请求修改"]
    assert not ZH_BOLD_BUTTON.search("{user} 于 {when} *验收通过*")
