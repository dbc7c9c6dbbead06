"""Views and messages of projects: the setup modal, the summary, the list, the intake message."""

from __future__ import annotations

from datetime import date
from typing import Any

from bot.blocks import ids
from bot.blocks.common import form_modal
from bot.blocks.common import input_block as _input
from bot.blocks.text import (
    BLOCKS_PER_MESSAGE,
    BUTTON_TEXT,
    HEADER_TEXT,
    PLACEHOLDER,
    SECTION_FIELD,
    channel_link,
    fit_blocks,
    mention,
    mrkdwn,
    option,
    plain_text,
    safe,
)
from bot.i18n import LANGUAGES, format_date, t
from bot.i18n.formatting import format_list, format_time, weekday_list, weekday_name
from bot.i18n.names import CADENCE_KEYS, LANGUAGE_KEYS
from bot.i18n.names import PROJECT_STATUS_KEYS as STATUS_KEYS
from bot.models import DayKind, Project, ProjectStatus
from bot.reports import holiday_regions

# The client's way in (SPEC §3): each button opens its feature's modal.
INTAKE_LABELS = {
    ids.INTAKE_NEW_REQUIREMENT: "intake.new_requirement",
    ids.INTAKE_CHANGE_REQUEST: "intake.change_request",
    ids.INTAKE_GIVE_FEEDBACK: "intake.give_feedback",
}


def _weekday_options(lang: str) -> list[dict[str, Any]]:
    return [option(weekday_name(d, lang), str(d)) for d in range(7)]


def project_modal(
    lang: str,
    *,
    editing: Project | None,
    channel_id: str | None,
    user_id: str,
    default_timezone: str,
    metadata: dict[str, Any],
    default_calendar: str = "",
    cadences: tuple[int, ...] = (0, 1, 2, 4),
) -> dict[str, Any]:
    """The setup form (or the edit form, prefilled from `editing`)."""
    p = editing
    tz = p.timezone if p else default_timezone
    language = p.language if p else lang
    weekday = p.digest_weekday if p else 4
    digest_time = p.digest_time.strftime("%H:%M") if p else "16:00"
    working = p.working_days if p else [0, 1, 2, 3, 4]
    cadence = p.feedback_cadence_weeks if p else 0
    weekday_opts = _weekday_options(lang)
    cadence_opts = [option(t(CADENCE_KEYS[c], lang), str(c)) for c in cadences]
    language_opts = [option(t(LANGUAGE_KEYS[code], lang), code) for code in LANGUAGES]
    flags = [
        option(t("project.option_anonymous", lang), "anonymous_feedback"),
        option(t("project.option_require_approval", lang), "require_pm_approval"),
        option(t("reports.option_monthly_report", lang), "monthly_report"),  # reports (issue 16)
        option(t("digest_names.option_charts_off", lang), "charts_off"),  # digest chart
    ]
    on_flags = [o for o in flags if p and (not p.charts_enabled if o["value"] == "charts_off"
                                           else getattr(p, o["value"]))]

    name_el: dict[str, Any] = {"type": "plain_text_input", "max_length": 80,
                               "placeholder": plain_text(t("project.placeholder_name", lang), PLACEHOLDER)}
    if p:
        name_el["initial_value"] = p.name
    client_el: dict[str, Any] = {"type": "plain_text_input", "max_length": 120,
                                 "placeholder": plain_text(t("project.placeholder_client_name", lang), PLACEHOLDER)}
    if p and p.client_name:
        client_el["initial_value"] = p.client_name
    channel_el: dict[str, Any] = {"type": "conversations_select",
                                  "filter": {"include": ["public", "private"], "exclude_bot_users": True}}
    initial_channel = p.client_channel_id if p else channel_id
    if initial_channel:
        channel_el["initial_conversation"] = initial_channel
    internal_el: dict[str, Any] = {"type": "conversations_select",
                                   "filter": {"include": ["public", "private"], "exclude_bot_users": True}}
    if p and p.internal_channel_id:
        internal_el["initial_conversation"] = p.internal_channel_id
    approvers_el: dict[str, Any] = {"type": "multi_users_select"}
    if p and p.client_approver_ids:
        approvers_el["initial_users"] = p.client_approver_ids
    tz_el: dict[str, Any] = {
        "type": "external_select",
        "action_id": ids.PROJECT_TZ_ACTION,
        "min_query_length": 1,
        "placeholder": plain_text(t("project.placeholder_timezone", lang), PLACEHOLDER),
        "initial_option": option(tz, tz),
    }
    cadence_el: dict[str, Any] = {"type": "static_select", "options": cadence_opts,
                                  "initial_option": next(o for o in cadence_opts if o["value"] == str(cadence))}
    options_el: dict[str, Any] = {"type": "checkboxes", "options": flags}
    if on_flags:
        options_el["initial_options"] = on_flags
    calendar_el: dict[str, Any] = {
        "type": "external_select",
        "action_id": ids.PROJECT_CALENDAR_ACTION,
        "min_query_length": 0,
        "placeholder": plain_text(t("calendar.placeholder", lang), PLACEHOLDER),
        "initial_option": calendar_option(holiday_regions.join(p.country, p.subdivision) if p else default_calendar,
                                          lang),
    }
    holidays_el: dict[str, Any] = {"type": "plain_text_input", "multiline": True,
                                   "placeholder": plain_text(t("project.placeholder_holidays", lang), PLACEHOLDER)}
    if p and p.holidays:
        holidays_el["initial_value"] = ", ".join(p.holidays)

    blocks = [
        _input(ids.PROJECT_BLOCK_NAME, t("project.label_name", lang), name_el),
        _input(ids.PROJECT_BLOCK_CLIENT_NAME, t("project.label_client_name", lang), client_el, optional=True),
        _input(ids.PROJECT_BLOCK_CLIENT_CHANNEL, t("project.label_client_channel", lang), channel_el,
               hint=t("project.hint_client_channel", lang)),
        _input(ids.PROJECT_BLOCK_INTERNAL_CHANNEL, t("project.label_internal_channel", lang), internal_el,
               optional=True, hint=t("project.hint_internal_channel", lang)),
        _input(ids.PROJECT_BLOCK_PM, t("project.label_pm", lang),
               {"type": "users_select", "initial_user": p.pm_user_id if p else user_id}),
        _input(ids.PROJECT_BLOCK_APPROVERS, t("project.label_approvers", lang), approvers_el, optional=True,
               hint=t("project.hint_approvers", lang)),
        _input(ids.PROJECT_BLOCK_TIMEZONE, t("project.label_timezone", lang), tz_el),
        _input(ids.PROJECT_BLOCK_LANGUAGE, t("project.label_language", lang),
               {"type": "static_select", "options": language_opts,
                "initial_option": next(o for o in language_opts if o["value"] == language)}),
        _input(ids.PROJECT_BLOCK_WEEKDAY, t("project.label_weekday", lang),
               {"type": "static_select", "options": weekday_opts, "initial_option": weekday_opts[weekday]}),
        _input(ids.PROJECT_BLOCK_TIME, t("project.label_time", lang),
               {"type": "timepicker", "initial_time": digest_time}),
        _input(ids.PROJECT_BLOCK_WORKING_DAYS, t("project.label_working_days", lang),
               {"type": "checkboxes", "options": weekday_opts,
                "initial_options": [weekday_opts[d] for d in working]}),
        _input(ids.PROJECT_BLOCK_CALENDAR, t("calendar.label", lang), calendar_el, hint=t("calendar.hint", lang)),
        _input(ids.PROJECT_BLOCK_HOLIDAYS, t("calendar.label_closures", lang), holidays_el, optional=True,
               hint=t("calendar.hint_closures", lang)),
        _input(ids.PROJECT_BLOCK_CADENCE, t("project.label_cadence", lang), cadence_el),
        _input(ids.PROJECT_BLOCK_OPTIONS, t("project.label_options", lang), options_el, optional=True),
        auto_accept_input(lang, p.auto_accept_after_days if p else 0),  # milestone acceptance
        # capture from the conversation (issue 14): the reaction that captures a message
        _input(ids.PROJECT_BLOCK_CAPTURE_EMOJI, t("capture.label_emoji", lang),
               {"type": "plain_text_input", "max_length": 66,
                "initial_value": (p.capture_emoji if p else "memo") or "off"},
               optional=True, hint=t("capture.hint_emoji", lang)),
    ]
    title = t("project.modal_title_edit" if p else "project.modal_title_setup", lang)
    return form_modal(ids.PROJECT_MODAL, title, lang, blocks, metadata)


def auto_accept_label(days: int, lang: str) -> str:
    return t("acceptance.auto_after", lang, days=days) if days else t("acceptance.auto_off", lang)


def auto_accept_input(lang: str, days: int, choices: tuple[int, ...] = (0, 3, 5, 10)) -> dict[str, Any]:
    """Milestone acceptance: after how many working days an unanswered delivery is accepted."""
    opts = [option(auto_accept_label(n, lang), str(n)) for n in choices]
    initial = next((o for o in opts if o["value"] == str(days)), opts[0])
    return _input(ids.PROJECT_BLOCK_AUTO_ACCEPT, t("acceptance.label_auto_accept", lang),
                  {"type": "static_select", "options": opts, "initial_option": initial}, optional=True,
                  hint=t("acceptance.hint_auto_accept", lang))


def _users(user_ids: list[str], lang: str) -> str:
    return format_list((mention(u) for u in user_ids), lang) or t("common.none", lang)


# Public-holiday calendars (issue 17) ------------------------------------------------------
COMING_KEYS = {DayKind.PUBLIC_HOLIDAY: "calendar.coming_public", DayKind.CLOSURE: "calendar.coming_closure",
               DayKind.MAKE_UP: "calendar.coming_make_up"}
COMING_MAX = 6


def calendar_label(country: str, subdivision: str, lang: str) -> str:
    """How a calendar is named: "Germany · Berlin (DE-BE)", "中国（CN）", or none."""
    if not country:
        return t("calendar.option_none", lang)
    c = holiday_regions.choice(holiday_regions.join(country, subdivision), lang)
    if c.subdivision:
        return t("calendar.option_subdivision", lang, country=c.country_name, subdivision=c.subdivision_name,
                 code=c.code)
    return t("calendar.option_country", lang, country=c.country_name, code=c.code)


def calendar_option(code: str, lang: str) -> dict[str, Any]:
    """The picker's option of a calendar code ("" for none)."""
    country, subdivision = holiday_regions.split(code)
    return option(calendar_label(country, subdivision, lang), code or ids.CALENDAR_NONE)


def calendar_options(query: str, lang: str, limit: int = 100) -> list[dict[str, Any]]:
    """The picker's options matching what was typed (a name in either language, or a code)."""
    q = " ".join(query.lower().split())
    out: list[dict[str, Any]] = []
    if not q or q in t("calendar.option_none", lang).lower() or q in ("none", "-", "无"):
        out.append(calendar_option("", lang))
    for c in holiday_regions.choices(lang):
        if len(out) >= limit:
            break
        words = f"{c.code} {c.country_name} {holiday_regions.country_name(c.country, 'en')} {c.subdivision_name}"
        if not q or q in words.lower():
            out.append(calendar_option(c.code, lang))
    return out


def coming_days(days: list[tuple[date, str, str]], lang: str) -> list[str]:
    """Lines for the coming days off and make-up working days: (day, kind, holiday name)."""
    return [t(COMING_KEYS[kind], lang, day=format_date(day, lang), name=safe(name, 100))
            for day, kind, name in days[:COMING_MAX]]


def project_summary(project: Project, lang: str, coming_days_off: list[tuple[date, str, str]] | None = None,
                    unknown_years: list[int] | None = None) -> list[dict[str, Any]]:
    """`/project show`: every setting at a glance (with the coming days off and make-up working
    days of its calendar, as (day, kind, holiday name), and the coming years whose make-up
    working days are not known yet)."""
    coming = coming_days(coming_days_off or [], lang)
    coming += [t("calendar.coming_unknown", lang, year=year) for year in unknown_years or []]
    cadence = t(CADENCE_KEYS.get(project.feedback_cadence_weeks, "project.cadence_0"), lang)
    fields = [
        t("project.show_client", lang, value=safe(project.client_name or "-", 500)),
        t("project.show_status", lang, value=t(STATUS_KEYS.get(project.status, "project.status_active"), lang)),
        t("project.show_client_channel", lang, value=channel_link(project.client_channel_id)),
        t("project.show_internal_channel", lang,
          value=channel_link(project.internal_channel_id) or t("common.none", lang)),
        t("project.show_pm", lang, value=mention(project.pm_user_id)),
        t("project.show_approvers", lang, value=_users(project.client_approver_ids, lang)),
        t("project.show_timezone", lang, value=safe(project.timezone, 100)),
        t("project.show_language", lang, value=t(LANGUAGE_KEYS.get(project.language, "common.language_en"), lang)),
        t("project.show_digest", lang, day=weekday_name(project.digest_weekday, lang),
          time=format_time(project.digest_time, lang)),
        t("project.show_working_days", lang, value=weekday_list(project.working_days, lang)),
    ]
    extra = [
        t("calendar.show_calendar", lang, value=calendar_label(project.country, project.subdivision, lang)),
        t("calendar.show_closures", lang, value=", ".join(project.holidays) or t("common.none", lang)),
        t("calendar.show_coming", lang, value="\n".join(coming) or t("calendar.coming_none", lang)),
        t("project.show_feedback", lang, value=cadence),
        t("acceptance.show_auto_accept", lang, value=auto_accept_label(project.auto_accept_after_days, lang)),
        # reports (issue 16)
        t("reports.show_monthly_on" if project.monthly_report else "reports.show_monthly_off", lang),
    ]
    return [
        {"type": "section", "text": mrkdwn(t("project.show_title", lang, name=safe(project.name, HEADER_TEXT)))},
        {"type": "section", "fields": [mrkdwn(f, SECTION_FIELD) for f in fields]},
        {"type": "section", "fields": [mrkdwn(f, SECTION_FIELD) for f in extra]},
    ]


def project_list(projects: list[Project], lang: str) -> list[dict[str, Any]]:
    if not projects:
        return [{"type": "section", "text": mrkdwn(t("project.list_empty", lang))}]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": plain_text(t("project.list_title", lang), HEADER_TEXT)}
    ]
    for p in projects:
        blocks.append({"type": "section", "text": mrkdwn(t(
            "project.list_item", lang, name=safe(p.name, 200), client=safe(p.client_name or "-", 200),
            channel=channel_link(p.client_channel_id),
            status=t(STATUS_KEYS.get(p.status, "project.status_active"), lang),
        ))})
    return fit_blocks(blocks, BLOCKS_PER_MESSAGE,
                      t("common.and_more", lang, count=len(blocks) - BLOCKS_PER_MESSAGE + 1))


def intake_buttons(project: Project, block_id: str) -> dict[str, Any]:
    """The client's way in (SPEC §3): New requirement, Change request, Give feedback."""
    lang = project.language
    buttons = [
        {"type": "button", "action_id": action_id, "value": str(project.id),
         "text": plain_text(t(label, lang), BUTTON_TEXT), **({"style": "primary"} if i == 0 else {})}
        for i, (action_id, label) in enumerate(INTAKE_LABELS.items())
    ]
    return {"type": "actions", "block_id": block_id, "elements": buttons}


def intake_message(project: Project) -> dict[str, Any]:
    """Posted (and pinned) in the client channel by `/project setup`; without buttons once the
    project is closed."""
    lang = project.language
    client = safe(project.client_name, 200) if project.client_name else t("project.intake_client_default", lang)
    name = safe(project.name, 200)
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": mrkdwn(t("project.intake_title", lang, name=name))},
    ]
    if project.status == ProjectStatus.closed:
        blocks.append({"type": "section", "text": mrkdwn(t("project.intake_closed", lang, name=name))})
    else:
        blocks.append({"type": "section", "text": mrkdwn(t("project.intake_body", lang, client=client))})
        blocks.append(intake_buttons(project, f"intake:{project.id}"))
    return {"text": t("project.intake_text", lang, client=client, name=name), "blocks": blocks}
