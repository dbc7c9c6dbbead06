"""The one lookup for every user-facing text, in English and Simplified Chinese.

Catalogues are TOML files under `locales/<lang>/`, one per area of the product; a key is
`<file>.<key>` (e.g. `project.saved`). Texts use `str.format` placeholders.
"""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path

from bot.i18n import names

LANGUAGES = ("en", "zh-CN")
DEFAULT_LANGUAGE = "en"
_LOCALES = Path(__file__).parent / "locales"


def _flatten(prefix: str, table: dict, out: dict[str, str]) -> None:
    for key, value in table.items():
        full = f"{prefix}.{key}"
        if isinstance(value, dict):
            _flatten(full, value, out)
        else:
            out[full] = str(value)


@cache
def catalogue(lang: str) -> dict[str, str]:
    """All texts of one language, keyed `<file>.<key>`."""
    out: dict[str, str] = {}
    for path in sorted((_LOCALES / lang).glob("*.toml")):
        with path.open("rb") as fh:
            _flatten(path.stem, tomllib.load(fh), out)
    return out


def normalise_language(lang: str | None) -> str:
    if not lang:
        return DEFAULT_LANGUAGE
    if lang.lower().startswith("zh"):
        return "zh-CN"
    return lang if lang in LANGUAGES else DEFAULT_LANGUAGE


def t(key: str, lang: str | None = None, /, **params: object) -> str:
    """Look a text up in `lang` (falling back to English), and fill in its placeholders."""
    lang = normalise_language(lang)
    text = catalogue(lang).get(key)
    if text is None:
        text = catalogue(DEFAULT_LANGUAGE).get(key)
    if text is None:
        raise KeyError(f"no text for {key!r}")
    return text.format(**params) if params else text


def format_date(day: object, lang: str | None = None) -> str:
    """A short, localised date: "Fri 20 Nov 2026" / "2026年11月20日（周五）"."""
    from datetime import date as _date

    assert isinstance(day, _date)
    lang = normalise_language(lang)
    weekday = t(names.WEEKDAY_SHORT_KEYS[day.weekday()], lang)
    if lang == "zh-CN":
        return f"{day.year}年{day.month}月{day.day}日（{weekday}）"
    return f"{weekday} {day.day} {t(f'common.month_{day.month}', lang)} {day.year}"
