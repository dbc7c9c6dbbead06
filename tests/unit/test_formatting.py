"""CLDR formatting (bot/i18n/formatting.py) in both languages: dates, times, weekdays, months,
numbers, percentages, currencies and plural forms."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import format_date, t
from bot.i18n import formatting as f


def test_dates_in_both_languages():
    day = date(2026, 11, 20)
    assert f.format_date(day, "en") == "Fri, Nov 20, 2026"
    assert f.format_date(day, "zh-CN") == "2026年11月20日周五"
    assert f.format_day(day, "en") == "Nov 20, 2026"
    assert f.format_day(day, "zh-CN") == "2026年11月20日"
    # The older entry point keeps working and says the same.
    assert format_date(day, "zh-CN") == f.format_date(day, "zh-CN")


def test_times_and_moments():
    assert f.format_time(time(16, 5), "en") == "16:05"
    assert f.format_time(time(9, 0), "zh-CN") == "09:00"
    at = datetime(2026, 10, 1, 8, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert f.format_datetime(at, "zh-CN") == "2026年10月1日周四 08:30"
    assert f.format_datetime(at, "en") == "Thu, Oct 1, 2026 08:30"


def test_weekday_and_month_names_come_from_cldr():
    assert [f.weekday_name(d, "en") for d in (0, 6)] == ["Monday", "Sunday"]
    assert [f.weekday_name(d, "zh-CN") for d in (0, 6)] == ["星期一", "星期日"]
    assert f.weekday_name(4, "zh-CN", short=True) == "周五"
    assert f.month_name(10, "en") == "October" and f.month_name(10, "zh-CN") == "十月"
    # Lists are joined the CLDR way: no half-width comma between Chinese words.
    assert f.weekday_list([0, 1, 4], "en") == "Monday, Tuesday, and Friday"
    assert f.weekday_list([0, 1, 4], "zh-CN") == "星期一、星期二和星期五"
    # Older callers that look a weekday up by key get the CLDR name.
    assert t("common.weekday_0", "zh-CN") == "星期一" and t("common.weekday_short_2", "en") == "Wed"


@pytest.mark.parametrize("lang", ["en", "zh-CN"])
def test_currency_numbers_and_percentages(lang):
    assert f.format_currency(Decimal("4200"), "EUR", lang) == "€4,200.00"
    assert f.format_currency(Decimal("1200.5"), "usd", lang) == {"en": "$1,200.50", "zh-CN": "US$1,200.50"}[lang]
    assert f.format_currency(Decimal("4200"), None, lang) == "4,200.00"
    assert f.format_number(1234567, lang) == "1,234,567"
    assert f.format_percent(100, lang) == "100%" and f.format_percent(40, lang) == "40%"


def test_yuan_and_dollars_per_locale():
    assert f.format_currency(Decimal("88"), "CNY", "zh-CN") == "¥88.00"
    assert f.format_currency(Decimal("88"), "CNY", "en") == "CN¥88.00"
    assert f.format_currency(Decimal("88"), "USD", "en") == "$88.00"


def test_plural_categories():
    assert f.plural_category(1, "en") == "one" and f.plural_category(2, "en") == "other"
    assert f.plural_category(0, "en") == "other" and f.plural_category(1, "zh-CN") == "other"


@pytest.mark.parametrize(("count", "en", "zh"), [
    (1, "Risk register of Acme: 1 risk", "Acme 的风险登记册：共 1 项"),
    (5, "Risk register of Acme: 5 risks", "Acme 的风险登记册：共 5 项"),
])
def test_catalogue_plurals_in_both_languages(count, en, zh):
    assert t("risk.list_text", "en", name="Acme", count=count) == en
    assert t("risk.list_text", "zh-CN", name="Acme", count=count) == zh


def test_a_days_count_picks_the_form_too():
    assert t("milestones.due_in", "en", date="d", days=1) == "due d, in 1 day"
    assert t("milestones.due_in", "en", date="d", days=3) == "due d, in 3 days"
    assert t("changes.impact_days", "en", days="+1", count=1) == "+1 day"
