"""Every date, time, weekday, month, number, percentage, currency and plural the bot shows, from
CLDR through Babel: one place, both languages. Plain values in, text out (no Slack, no database).

Nothing here builds a month or weekday name by hand, and no catalogue holds one
(tests/unit/test_catalogue_lint.py fails on either). Callers pass the product language
(`en` / `zh-CN`, as `bot.i18n.normalise_language` gives it).

    format_date(date(2026, 11, 20), "en")     -> "Fri, Nov 20, 2026"
    format_date(date(2026, 11, 20), "zh-CN")  -> "2026年11月20日周五"
    format_currency(Decimal("4200"), "EUR", "zh-CN") -> "€4,200.00"
    format_percent(100, "zh-CN")              -> "100%"
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time
from decimal import Decimal
from functools import cache

from babel import Locale, UnknownLocaleError
from babel import dates as _dates
from babel import lists as _lists
from babel import numbers as _numbers

PLURAL_CATEGORIES = frozenset({"zero", "one", "two", "few", "many", "other"})
# The product language → the CLDR locale that speaks it.
_CLDR = {"en": "en", "zh-CN": "zh_Hans_CN"}


@cache
def locale_of(lang: str | None) -> Locale:
    """The Babel locale of a product language (English when unknown)."""
    from bot.i18n import normalise_language

    try:
        return Locale.parse(_CLDR.get(normalise_language(lang), "en"))
    except (UnknownLocaleError, ValueError):  # pragma: no cover - CLDR ships both
        return Locale.parse("en")


def plural_category(count: int | float | Decimal, lang: str | None) -> str:
    """CLDR's plural category of `count` in `lang`: English one/other, Chinese always other."""
    return locale_of(lang).plural_form(abs(count))


# --- dates and times ---------------------------------------------------------------------------

def format_date(day: date, lang: str | None = None) -> str:
    """A date with its weekday: "Fri, Nov 20, 2026" / "2026年11月20日周五"."""
    return _dates.format_skeleton("yMMMEd", day, locale=locale_of(lang))


def format_day(day: date, lang: str | None = None) -> str:
    """A date without the weekday: "Nov 20, 2026" / "2026年11月20日"."""
    return _dates.format_skeleton("yMMMd", day, locale=locale_of(lang))


def format_time(at: time | datetime, lang: str | None = None) -> str:
    """A clock time, 24-hour as the product is configured: "16:00"."""
    if isinstance(at, datetime):
        at = at.timetz() if at.tzinfo else at.time()
    return _dates.format_skeleton("Hm", at.replace(tzinfo=None), locale=locale_of(lang))


def format_datetime(at: datetime, lang: str | None = None) -> str:
    """A local moment (already in the zone it is shown in): "Fri, Nov 20, 2026 16:00"."""
    return f"{format_date(at.date(), lang)} {format_time(at, lang)}"


def weekday_name(weekday: int, lang: str | None = None, *, short: bool = False) -> str:
    """Monday = 0: "Monday" / "星期一", short "Mon" / "周一"."""
    width = "abbreviated" if short else "wide"
    return str(locale_of(lang).days["format"][width][weekday % 7])


def month_name(month: int, lang: str | None = None, *, short: bool = False) -> str:
    """January = 1: "January" / "一月", short "Jan" / "1月"."""
    width = "abbreviated" if short else "wide"
    return str(locale_of(lang).months["format"][width][month])


def format_list(items: Iterable[str], lang: str | None = None) -> str:
    """"Monday, Tuesday, and Friday" / "星期一、星期二和星期五"."""
    items = list(items)
    return _lists.format_list(items, locale=locale_of(lang)) if items else ""


def weekday_list(weekdays: Iterable[int], lang: str | None = None) -> str:
    return format_list((weekday_name(d, lang) for d in weekdays), lang)


# --- numbers -----------------------------------------------------------------------------------

def format_number(value: int | float | Decimal, lang: str | None = None) -> str:
    """"4,200" / "4,200.5" in both languages."""
    return _numbers.format_decimal(value, locale=locale_of(lang))


def format_percent(percent: int | float | Decimal, lang: str | None = None) -> str:
    """A whole-number percentage (40 → "40%"), no space in either language."""
    return _numbers.format_percent(Decimal(str(percent)) / 100, locale=locale_of(lang))


def format_currency(amount: Decimal | int | float, currency: str | None, lang: str | None = None) -> str:
    """"€4,200.00" (en and zh-CN alike, as CLDR has it); a bare number without a currency."""
    if not currency:
        return _numbers.format_decimal(amount, format="#,##0.00", locale=locale_of(lang))
    return _numbers.format_currency(amount, currency.upper(), locale=locale_of(lang))
