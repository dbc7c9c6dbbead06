"""Public-holiday calendars a project can pick: a country of the `holidays` package and,
where it matters, one of its subdivisions (a state, a Land, a province).

Naming only — which days are off or worked is `bot.services.calendar`'s business.

A calendar is written as one code: "CN", "DE-BE" (country, a hyphen, the package's subdivision
code), or "" for none (the project's working days and own closures only). `default_calendar`
picks one from a time zone: the country is the one tzdata's `zone.tab` gives the zone (the
zone's own country, e.g. Asia/Shanghai → CN); the subdivision comes from a small table of the
zones named after a city whose state has holidays of its own (Europe/Berlin → Berlin,
America/New_York → New York). A zone of no country (UTC, Etc/…) or of a country the package
does not know gives none.

This module imports nothing of the bot, so a migration can use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import holidays

# Zones named after a city in a subdivision with holidays of its own → that subdivision.
# (Zones not listed here default to the country alone: its nationwide holidays.)
ZONE_SUBDIVISIONS: dict[str, str] = {
    "Europe/Berlin": "BE",
    "Europe/Busingen": "BW",
    "America/New_York": "NY",
    "America/Chicago": "IL",
    "America/Denver": "CO",
    "America/Phoenix": "AZ",
    "America/Los_Angeles": "CA",
    "America/Anchorage": "AK",
    "America/Detroit": "MI",
    "Pacific/Honolulu": "HI",
    "America/Toronto": "ON",
    "America/Vancouver": "BC",
    "America/Edmonton": "AB",
    "America/Winnipeg": "MB",
    "America/Halifax": "NS",
    "America/St_Johns": "NL",
    "America/Regina": "SK",
    "Australia/Sydney": "NSW",
    "Australia/Melbourne": "VIC",
    "Australia/Brisbane": "QLD",
    "Australia/Adelaide": "SA",
    "Australia/Perth": "WA",
    "Australia/Hobart": "TAS",
    "Australia/Darwin": "NT",
    "Europe/London": "ENG",
    "Europe/Zurich": "ZH",
    "Europe/Madrid": "MD",
    "Europe/Vienna": "9",
    "Asia/Kolkata": "DL",
    "America/Sao_Paulo": "SP",
}


def split(code: str | None) -> tuple[str, str]:
    """("DE", "BE") from "DE-BE"; ("CN", "") from "CN"; ("", "") from "" or "-"."""
    country, _, subdivision = (code or "").strip().partition("-")
    return country.upper(), subdivision


def join(country: str | None, subdivision: str | None = None) -> str:
    """The one-code form of a calendar ("" for none)."""
    if not country:
        return ""
    return f"{country}-{subdivision}" if subdivision else country


@cache
def countries() -> dict[str, tuple[str, ...]]:
    """Every country the `holidays` package has a calendar for → its subdivision codes."""
    return {code: tuple(subdivisions)
            for code, subdivisions in holidays.list_supported_countries(include_aliases=False).items()}


def is_known(country: str, subdivision: str = "") -> bool:
    """Whether the package has this calendar ("" and "" — none — is known too)."""
    if not country:
        return not subdivision
    subdivisions = countries().get(country)
    return subdivisions is not None and (not subdivision or subdivision in subdivisions)


@cache
def _zone_countries() -> dict[str, str]:
    """Zone name → ISO 3166 country code, from tzdata's zone.tab."""
    text = resources.files("tzdata.zoneinfo").joinpath("zone.tab").read_text(encoding="utf-8")
    out: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        parts = line.split("\t")
        if len(parts) >= 3:
            out[parts[2]] = parts[0]
    return out


def default_calendar(timezone: str | None) -> tuple[str, str]:
    """(country, subdivision) a project in `timezone` starts with; ("", "") when none fits."""
    country = _zone_countries().get(timezone or "", "")
    if not is_known(country):
        return "", ""
    subdivision = ZONE_SUBDIVISIONS.get(timezone or "", "")
    return country, subdivision if is_known(country, subdivision) else ""


@cache
def _iso_names() -> dict[str, str]:
    """ISO 3166 code → English country name, from tzdata's iso3166.tab."""
    text = resources.files("tzdata.zoneinfo").joinpath("iso3166.tab").read_text(encoding="utf-8")
    return {parts[0]: parts[1] for line in text.splitlines()
            if not line.startswith("#") and len(parts := line.split("\t")) >= 2}


@cache
def _subdivision_names(country: str) -> dict[str, str]:
    """Subdivision code → its name, as the package spells it (not every code has one)."""
    try:
        aliases = holidays.country_holidays(country).subdivisions_aliases
    except (NotImplementedError, AttributeError, KeyError):
        return {}
    names: dict[str, str] = {}
    for name, code in aliases.items():
        names.setdefault(code, name)
    return names


@cache
def country_name(country: str, lang: str) -> str:
    """The country's name in `lang` (CLDR through Babel), else in English (tzdata), else its code."""
    if lang.startswith("zh"):
        try:
            from babel import Locale

            name = Locale.parse("zh_Hans_CN").territories.get(country)
            if name:
                return name
        except Exception:  # Babel absent or without the locale: the English name will do
            pass
    return _iso_names().get(country, country)


def subdivision_name(country: str, subdivision: str) -> str:
    return _subdivision_names(country).get(subdivision, subdivision)


@dataclass(frozen=True)
class Choice:
    code: str  # "CN", "DE-BE"
    country: str
    subdivision: str
    country_name: str
    subdivision_name: str


def choice(code: str, lang: str) -> Choice:
    country, subdivision = split(code)
    return Choice(join(country, subdivision), country, subdivision, country_name(country, lang),
                  subdivision_name(country, subdivision) if subdivision else "")


@cache
def choices(lang: str) -> tuple[Choice, ...]:
    """Every calendar, countries by (English) name, each followed by its subdivisions."""
    out: list[Choice] = []
    for country in sorted(countries(), key=lambda c: country_name(c, "en")):
        out.append(choice(country, lang))
        out.extend(choice(join(country, s), lang) for s in countries()[country])
    return tuple(out)
