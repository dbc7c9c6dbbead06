"""The one lookup for every user-facing text, in English and Simplified Chinese.

Catalogues are TOML files under `locales/<lang>/`, one per area of the product; a key is
`<file>.<key>` (e.g. `project.saved`). Texts use `str.format` placeholders.

A text that counts something is a table of CLDR plural forms, chosen by `count`:

    [doc_count]
    one = "{count} requirement"
    other = "{count} requirements"

(Chinese has only `other`.) `t("requirements.doc_count", lang, count=5)` picks the form by
Babel's plural rules, from the first of `PLURAL_PARAMS` the call passes (`count`, `days`, ...).
Dates, weekdays, months, numbers and money come from `bot.i18n.formatting` (CLDR), never from a
catalogue.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

from bot.i18n import formatting
from bot.i18n.formatting import PLURAL_CATEGORIES

LANGUAGES = ("en", "zh-CN")
DEFAULT_LANGUAGE = "en"
_LOCALES = Path(__file__).parent / "locales"
# The parameter that picks a plural form: the first of these a call passes.
PLURAL_PARAMS = ("count", "days", "answers")


def is_plural_table(value: object) -> bool:
    """A table of plural forms: only CLDR category names, `other` among them."""
    return isinstance(value, dict) and bool(value) and "other" in value and set(value) <= PLURAL_CATEGORIES


def _flatten(prefix: str, table: dict, out: dict[str, str], plurals: dict[str, dict[str, str]]) -> None:
    for key, value in table.items():
        full = f"{prefix}.{key}"
        if is_plural_table(value):
            plurals[full] = {cat: str(text) for cat, text in value.items()}
            out[full] = str(value["other"])
        elif isinstance(value, dict):
            _flatten(full, value, out, plurals)
        else:
            out[full] = str(value)


@cache
def _load(lang: str) -> tuple[dict[str, str], dict[str, dict[str, str]]]:
    out: dict[str, str] = {}
    plurals: dict[str, dict[str, str]] = {}
    for path in sorted((_LOCALES / lang).glob("*.toml")):
        with path.open("rb") as fh:
            _flatten(path.stem, tomllib.load(fh), out, plurals)
    return out, plurals


def catalogue(lang: str) -> dict[str, str]:
    """All texts of one language, keyed `<file>.<key>` (a plural entry by its `other` form)."""
    return _load(lang)[0]


def plural_forms(lang: str) -> dict[str, dict[str, str]]:
    """The entries with plural forms: key → {CLDR category: text}."""
    return _load(lang)[1]


def normalise_language(lang: str | None) -> str:
    """A product language from a Slack locale or a stored value. Only Simplified Chinese maps to
    `zh-CN` (zh-CN, zh-Hans, zh-SG); zh-TW / zh-HK get English until a Traditional Chinese
    catalogue exists."""
    if not lang:
        return DEFAULT_LANGUAGE
    low = lang.replace("_", "-").lower()
    if low == "zh" or low.startswith(("zh-cn", "zh-hans", "zh-sg")):
        return "zh-CN"
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def person_language(locale: str | None, fallback: str | None) -> str:
    """The language a person reads: their Slack locale when it is known (zh-CN → Chinese; any
    other locale, zh-TW and zh-HK included, → English until a catalogue for it exists), else
    `fallback` (the project's language)."""
    if locale:
        return normalise_language(locale)
    return normalise_language(fallback)


# Keys whose text comes from CLDR, kept so that `t(names.WEEKDAY_KEYS[d], lang)` still works.
def _computed(key: str, lang: str) -> str | None:
    prefix, _, number = key.rpartition("_")
    if not number.isdigit():
        return None
    n = int(number)
    if prefix == "common.weekday" and 0 <= n <= 6:
        return formatting.weekday_name(n, lang)
    if prefix == "common.weekday_short" and 0 <= n <= 6:
        return formatting.weekday_name(n, lang, short=True)
    if prefix == "common.month" and 1 <= n <= 12:
        return formatting.month_name(n, lang, short=True)
    return None


def has_text(key: str, lang: str) -> bool:
    return key in catalogue(lang) or _computed(key, lang) is not None


def t(key: str, lang: str | None = None, /, **params: object) -> str:
    """Look a text up in `lang` (falling back to English), and fill in its placeholders. A plural
    entry picks its form by `count`."""
    lang = normalise_language(lang)
    text: str | None = None
    source = lang if key in catalogue(lang) else DEFAULT_LANGUAGE
    forms = plural_forms(source).get(key)
    if forms is not None:
        count = next((params[p] for p in PLURAL_PARAMS if p in params), None)
        countable = isinstance(count, int | float) and not isinstance(count, bool)
        text = forms.get(formatting.plural_category(count, source) if countable else "other", forms["other"])
    if text is None:
        text = catalogue(lang).get(key)
    if text is None:
        text = catalogue(DEFAULT_LANGUAGE).get(key)
    if text is None:
        text = _computed(key, lang)
    if text is None:
        raise KeyError(f"no text for {key!r}")
    return text.format(**params) if params else text


def format_date(day: object, lang: str | None = None) -> str:
    """A short, localised date (CLDR): "Fri, Nov 20, 2026" / "2026年11月20日周五"."""
    from datetime import date as _date

    assert isinstance(day, _date)
    return formatting.format_date(day, lang)
