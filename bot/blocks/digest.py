"""The weekly digest: the client's version (client channel) and the team's (internal channel).

The client version never shows internal risks, costs the PM did not share, or internal
counts. Whatever the project's size, the message stays within Block Kit's limits: long lists
are cut with "…and N more".
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from bot.blocks import ids
from bot.blocks.acceptance import digest_blocks as acceptance_digest_blocks
from bot.blocks.changes import ref as cr_ref
from bot.blocks.client_items import digest_section as client_items_section
from bot.blocks.common import form_modal, input_block
from bot.blocks.digest_chart import image_block
from bot.blocks.format import money, progress_bar, week_number
from bot.blocks.project import intake_buttons
from bot.blocks.text import (
    BLOCKS_PER_MESSAGE,
    BUTTON_TEXT,
    HEADER_TEXT,
    SECTION_TEXT,
    channel_link,
    mention,
    mrkdwn,
    plain_text,
    safe,
)
from bot.i18n import format_date, t
from bot.i18n.formatting import format_list, format_percent
from bot.i18n.names import DECISION_KEYS, MILESTONE_STATUS_KEYS, OVERALL_KEYS
from bot.models import ChangeRequest, Project, Risk
from bot.reports.wording import local_day
from bot.reports.wording import ref as req_ref

if TYPE_CHECKING:  # the facts are plain data; the builder needs no service at run time
    from bot.reports.facts import DigestFacts

LIST_LIMIT = 5  # items per list before "…and N more"
TITLE_LIMIT = 150


def decision_buttons(kind: str, lang: str, item: Any) -> list[dict[str, Any]]:
    """The buttons with which a client approver decides an awaiting item, wherever it is shown
    (the digest, the App Home): the same actions as on the original request."""
    if kind == "requirement":
        from bot.blocks.requirements import decision_buttons as requirement_buttons

        return requirement_buttons(item, lang)
    if kind == "change":
        from bot.blocks.changes import decision_buttons as change_buttons

        return change_buttons(item, lang)
    return []


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn(text)}


def _impact(c: ChangeRequest, lang: str, *, show_cost: bool) -> str:
    out = ""
    if c.schedule_impact_days:
        out += t("digest.impact_days", lang, days=c.schedule_impact_days)
    if show_cost and c.cost_amount is not None and c.cost_currency:
        out += t("digest.impact_cost", lang, amount=safe(money(c.cost_amount, c.cost_currency, lang), 40))
    return out


def _waiting(days: int, lang: str) -> str:
    return t("digest.waiting_0" if days <= 0 else "digest.waiting_1" if days == 1 else "digest.waiting_n", lang,
             **({"days": days} if days > 1 else {}))


def _risk_line(r: Risk, lang: str, *, internal: bool) -> str:
    marker = t("digest.risk_internal_marker", lang) if internal and r.visibility != "client" else ""
    mitigation = safe(r.mitigation, 300) if r.mitigation.strip() else t("digest.risk_no_mitigation", lang)
    return marker + t("digest.risk_line", lang, title=safe(r.title, TITLE_LIMIT), score=r.score, mitigation=mitigation)


@dataclass(frozen=True)
class View:
    """One rendering of a digest: its facts, for whom (client channel or team), with a chart?"""

    facts: DigestFacts
    internal: bool
    chart: bool = False  # an image block for the chart (its file is filled in when it is sent)

    @property
    def project(self) -> Project:
        return self.facts.project

    @property
    def lang(self) -> str:
        return self.facts.project.language


@dataclass(frozen=True)
class NamedList:
    """One list of "This week": a title, its lines (all of them; the builder caps them) and the
    command that lists them all."""

    title: str
    lines: list[str]
    command: str | None = None


def _capped(items: NamedList, lang: str) -> str:
    """Title and at most LIST_LIMIT lines, then "…and N more: `/command`"; within a section."""
    shown = items.lines[:LIST_LIMIT]
    rest = len(items.lines) - len(shown)
    text = items.title + "\n" + "\n".join(shown)
    while len(text) > SECTION_TEXT - 200 and shown:  # very long lines: keep fewer
        shown = shown[:-1]
        rest += 1
        text = items.title + "\n" + "\n".join(shown)
    if rest:
        more = (t("digest_names.and_more", lang, count=rest, command=items.command) if items.command
                else t("digest_names.and_more_plain", lang, count=rest))
        text += "\n" + more
    return text


# "This week": each builder names one kind of news, or returns None when there is none. -----------


def _requirements_raised(v: View) -> NamedList | None:
    items = v.facts.requirements_raised
    if not items:
        return None
    return NamedList(t("digest_names.requirements_raised_title", v.lang, count=len(items)),
                     [t("digest_names.requirement_line", v.lang, ref=req_ref(r), title=safe(r.title, TITLE_LIMIT))
                      for r in items], "/req list")


def _requirements_confirmed(v: View) -> NamedList | None:
    items = v.facts.requirements_confirmed
    if not items:
        return None
    return NamedList(t("digest_names.requirements_confirmed_title", v.lang, count=len(items)),
                     [t("digest_names.requirement_line", v.lang, ref=req_ref(r), title=safe(r.title, TITLE_LIMIT))
                      for r in items], "/req list")


def _change_impact(c: ChangeRequest, v: View) -> str:
    out = _impact(c, v.lang, show_cost=v.internal or c.share_cost_with_client)
    if v.internal and c.effort_hours:
        out += t("digest_names.impact_effort", v.lang, hours=f"{float(c.effort_hours):g}")
    return out


def _changes_raised(v: View) -> NamedList | None:
    items = v.facts.changes_raised
    if not items:
        return None
    return NamedList(t("digest_names.changes_raised_title", v.lang, count=len(items)),
                     [t("digest_names.change_line", v.lang, ref=cr_ref(c), title=safe(c.title, TITLE_LIMIT),
                        impact=_change_impact(c, v)) for c in items], "/change list")


def _changes_decided(v: View) -> NamedList | None:
    items = v.facts.changes_decided
    if not items:
        return None
    return NamedList(t("digest_names.changes_decided_title", v.lang, count=len(items)),
                     [t("digest_names.change_decided_line", v.lang, ref=cr_ref(c), title=safe(c.title, TITLE_LIMIT),
                        decision=t(DECISION_KEYS[c.status], v.lang), impact=_change_impact(c, v)) for c in items],
                     "/change list")


def _milestones_done(v: View) -> NamedList | None:
    items = v.facts.milestones_done
    if not items:
        return None
    return NamedList(t("digest_names.milestones_done_title", v.lang, count=len(items)),
                     [t("digest_names.milestone_done_line", v.lang, name=safe(m.name, TITLE_LIMIT),
                        date=format_date(local_day(m.done_at, v.project.timezone) or v.facts.today, v.lang))
                      for m in items],
                     "/milestone list")


def _feedback(v: View) -> NamedList | None:
    """Counts and the average only: never who answered (anonymous or not)."""
    items = v.facts.feedback
    if not items:
        return None
    avg = v.facts.feedback_average
    scores = len([f for f in items if f.score is not None])
    lines = [t("digest_names.feedback_scores", v.lang, count=scores, average=avg) if avg is not None
             else t("digest_names.feedback_scores_no_average", v.lang, count=len(items))]
    kinds = {k: n for k, n in v.facts.feedback_kinds.items() if k != "score"}
    if kinds:
        lines.append(t("digest_names.feedback_kinds", v.lang, kinds=" · ".join(
            t(f"digest_names.kind_{k}", v.lang, count=n) for k, n in sorted(kinds.items()))))
    return NamedList(t("digest_names.feedback_title", v.lang), lines)


# The lists of "This week", in order. Another feature adds its list with one line here.
THIS_WEEK: list[Callable[[View], NamedList | None]] = [
    _requirements_raised,
    _requirements_confirmed,
    _changes_raised,
    _changes_decided,
    _milestones_done,
    # acceptance: "Accepted this week" goes here
    # client items: "Client items completed" goes here
    _feedback,
]


# The digest's sections: each builder returns its blocks (none when it has nothing to show). -----


def _note(v: View) -> list[dict[str, Any]]:
    if not v.facts.note:
        return []
    return [_section(t("digest.note_title", v.lang, pm=mention(v.project.pm_user_id)) + "\n"
                     + safe(v.facts.note, 2000))]


def _status(v: View) -> list[dict[str, Any]]:
    return [{"type": "section", "text": mrkdwn(t(OVERALL_KEYS[v.facts.overall], v.lang))},
            {"type": "context", "elements": [mrkdwn(t("digest.week_line", v.lang, week=week_number(v.facts.week),
                                                      date=format_date(v.facts.week_monday, v.lang)))]},
            {"type": "divider"}]


def _chart(v: View) -> list[dict[str, Any]]:
    return [image_block(v.facts)] if v.chart else []


def _milestones(v: View) -> list[dict[str, Any]]:
    lang = v.lang
    ms = [t("digest.milestone_line", lang, name=safe(m.name, TITLE_LIMIT), bar=progress_bar(m.progress),
            progress=format_percent(m.progress, lang), due=format_date(m.due_date, lang),
            status=t(MILESTONE_STATUS_KEYS[m.status], lang))
          for m in v.facts.milestones]
    if not ms:
        return [_section(t("digest.milestones_title", lang) + "\n" + t("digest.no_milestones", lang))]
    return [_section(_capped(NamedList(t("digest.milestones_title", lang), ms, "/milestone list"), lang))]


def _this_week(v: View) -> list[dict[str, Any]]:
    lists = [named for build in THIS_WEEK if (named := build(v)) is not None]
    title = t("digest.this_week_title", v.lang)
    if not lists:
        return [_section(title + "\n" + t("digest.nothing_this_week", v.lang))]
    out = [_section(_capped(named, v.lang)) for named in lists]
    out[0] = _section(title + "\n" + _capped(lists[0], v.lang))
    return out


def _awaiting(v: View) -> list[dict[str, Any]]:
    facts, lang, internal = v.facts, v.lang, v.internal
    blocks: list[dict[str, Any]] = [
        {"type": "divider"},
        _section(t("digest.awaiting_title_internal" if internal else "digest.awaiting_title", lang))]
    awaiting: list[tuple[str, Any, str]] = []
    for r in facts.awaiting_requirements:
        days = facts.requirement_waiting.get(r.id or 0, 0)
        awaiting.append(("requirement", r, t("digest.awaiting_requirement", lang, title=safe(r.title, TITLE_LIMIT),
                                             waiting=_waiting(days, lang))))
    for c in facts.awaiting_changes:
        days = facts.change_waiting.get(c.id or 0, 0)
        awaiting.append(("change", c, t("digest.awaiting_change", lang, title=safe(c.title, TITLE_LIMIT),
                                        waiting=_waiting(days, lang),
                                        impact=_impact(c, lang, show_cost=internal or c.share_cost_with_client))))
    if not awaiting:
        blocks.append({"type": "context", "elements": [mrkdwn(t("digest.awaiting_none", lang))]})
    for kind, item, text in awaiting[:LIST_LIMIT]:
        blocks.append(_section(text))
        if not internal:
            blocks.append({"type": "actions", "block_id": f"digest-{kind}:{item.id}",
                           "elements": decision_buttons(kind, lang, item)})
    if len(awaiting) > LIST_LIMIT:
        blocks.append({"type": "context", "elements": [mrkdwn(t("digest.and_more", lang,
                                                                 count=len(awaiting) - LIST_LIMIT))]})
    return blocks


def _client_items(v: View) -> list[dict[str, Any]]:
    return client_items_section(v.project, v.facts.client_items, today=v.facts.today, internal=v.internal)


def _acceptance(v: View) -> list[dict[str, Any]]:
    return acceptance_digest_blocks(v.facts.accepted, v.facts.awaiting_acceptance, v.project, internal=v.internal)


def _risks(v: View) -> list[dict[str, Any]]:
    risks = v.facts.risks if v.internal else v.facts.client_risks
    if not risks:
        return []
    return [{"type": "divider"}, _section(_capped(NamedList(
        t("digest.risks_title", v.lang), [_risk_line(r, v.lang, internal=v.internal) for r in risks],
        "/risk list" if v.internal else None), v.lang))]


def _next_week(v: View) -> list[dict[str, Any]]:
    lang = v.lang
    lines = [t("digest.next_week_line", lang, name=safe(m.name, TITLE_LIMIT), due=format_date(m.due_date, lang),
               progress=format_percent(m.progress, lang)) for m in v.facts.due_next_week]
    if not lines:
        return [_section(t("digest.next_week_title", lang) + "\n" + t("digest.next_week_none", lang))]
    return [_section(_capped(NamedList(t("digest.next_week_title", lang), lines, "/milestone list"), lang))]


def _team_or_intake(v: View) -> list[dict[str, Any]]:
    facts, lang, p = v.facts, v.lang, v.project
    if v.internal:
        extra = [t("digest.internal_follow_ups", lang, count=facts.open_follow_ups)]
        costs = [safe(money(c.cost_amount, c.cost_currency, lang), 40) for c in
                 facts.changes_raised + facts.awaiting_changes if c.cost_amount is not None]
        if costs:
            extra.append(t("digest.internal_costs", lang, costs=format_list(dict.fromkeys(costs), lang)))
        return [{"type": "divider"}, _section(t("digest.internal_title", lang) + "\n" + "\n".join(extra))]
    return [{"type": "context", "elements": [mrkdwn(t("digest.intake_hint", lang))]},
            intake_buttons(p, f"digest-intake:{p.id}")]


# The digest's body, in order. Another feature adds its section with one line here.
SECTIONS: list[Callable[[View], list[dict[str, Any]]]] = [
    _note,
    _status,
    _chart,
    _milestones,
    _this_week,
    _awaiting,
    _client_items,  # client items (issue 15): "What we need from you"
    _acceptance,  # milestone acceptance: "Accepted this week" and what awaits the client's acceptance
    _risks,
    _next_week,
    _team_or_intake,  # last: the intake buttons (client) or the team's figures (internal)
]


def _drop_last_item(section: list[dict[str, Any]]) -> None:
    """Take the last item out of a long section: its buttons with the line they belong to, keeping
    a closing "…and N more" note where there is one."""
    end = len(section) - 1 if section and section[-1].get("type") == "context" and len(section) > 2 else len(section)
    cut = end - 1
    if section[cut].get("type") == "actions" and cut > 0 and section[cut - 1].get("type") == "section":
        cut -= 1
    del section[cut:end]


def _fit(sections: list[list[dict[str, Any]]], budget: int) -> list[dict[str, Any]]:
    """Within Block Kit's 50 blocks whatever the sections add: the longest section (never the
    last one, with the intake buttons) gives up its last items first."""
    sections = [list(s) for s in sections]
    while sum(len(s) for s in sections) > budget:
        longest = max(sections[:-1], key=len)
        if len(longest) <= 1:
            break
        _drop_last_item(longest)
    out = [b for s in sections for b in s]
    return out[: budget - 2] + out[-2:] if len(out) > budget else out


def digest_message(facts: DigestFacts, *, internal: bool, chart: bool = False) -> dict[str, Any]:
    """`{text, blocks}` of the digest. `internal=False` is what the client channel gets; with
    `chart` it shows the week's chart (see `bot.blocks.digest_chart`)."""
    p = facts.project
    lang = p.language
    view = View(facts, internal, chart)
    header = t("digest.header_internal" if internal else "digest.header", lang, name=p.name)
    head: list[dict[str, Any]] = [{"type": "header", "text": plain_text(header, HEADER_TEXT)}]
    blocks = head + _fit([build(view) for build in SECTIONS], BLOCKS_PER_MESSAGE - len(head))
    status_text = t(OVERALL_KEYS[facts.overall], lang)
    text = t("digest.text_fallback", lang, name=safe(p.name, 100), status=status_text.replace("*", ""))
    return {"text": text, "blocks": blocks, "unfurl_links": False, "unfurl_media": False}


def _week_buttons(p: Project, week: str, buttons: list[tuple[str, str]], lang: str | None = None) -> dict[str, Any]:
    """The PM's buttons about one week's digest (the first is the primary one), in `lang`
    (default: the project's language)."""
    value = ids.week_value(p.id or 0, week)
    lang = lang or p.language
    return {"type": "actions", "block_id": f"preview:{p.id}", "elements": [
        {"type": "button", "action_id": action_id, "value": value,
         "text": plain_text(t(label, lang), BUTTON_TEXT), **({"style": "primary"} if n == 0 else {})}
        for n, (action_id, label) in enumerate(buttons)]}


def preview_message(facts: DigestFacts, *, due: date, requires_approval: bool) -> dict[str, Any]:
    """The PM's DM before the digest is due: the digest as the client will see it, and buttons."""
    p = facts.project
    lang = p.language
    digest = digest_message(facts, internal=False)
    intro = [
        _section(t("digest.preview_intro", lang, name=safe(p.name, 100), due=format_date(due, lang))),
        {"type": "context", "elements": [mrkdwn(t(
            "digest.preview_requires_approval" if requires_approval else "digest.preview_posts_on_time", lang))]},
        _week_buttons(p, facts.week, [(ids.DIGEST_POST_NOW, "digest.preview_post_now"),
                                       (ids.DIGEST_ADD_NOTE, "digest.preview_add_note"),
                                       (ids.DIGEST_SKIP, "digest.preview_skip")]),
        {"type": "divider"},
    ]
    body = [b for b in digest["blocks"] if b.get("type") != "actions"]
    blocks = (intro + body)[:BLOCKS_PER_MESSAGE]
    return {"text": t("digest.preview_intro", lang, name=safe(p.name, 100), due=format_date(due, lang)),
            "blocks": blocks}


def late_question(facts: DigestFacts, *, due: date, lang: str | None = None) -> dict[str, Any]:
    """The PM's DM: the digest was not posted when due; post it now? In `lang`, the PM's own
    language (default: the project's). Unlike the preview, it does not show the post."""
    p = facts.project
    lang = lang or p.language
    text = t("digest.late_question", lang, name=safe(p.name, 100), due=format_date(due, lang))
    return {"text": text, "blocks": [
        _section(text),
        _week_buttons(p, facts.week, [(ids.DIGEST_POST_NOW, "digest.late_post"),
                                       (ids.DIGEST_SKIP, "digest.late_skip")], lang),
    ]}


def send_confirmation(project: Project, week: str, overrides: list[str], lang: str) -> dict[str, Any]:
    """`/digest send` by a team member who is not the PM: what it overrides, and buttons."""
    text = t("digest.confirm_send", lang, name=safe(project.name, 100), channel=channel_link(project.client_channel_id),
             pm=mention(project.pm_user_id))
    if overrides:
        text += "\n" + t("digest.confirm_overrides", lang,
                         what=format_list((t(OVERRIDES[o], lang) for o in overrides), lang))
    value = ids.week_value(project.id or 0, week)
    return {"response_type": "ephemeral", "text": text, "blocks": [
        _section(text),
        {"type": "actions", "elements": [
            {"type": "button", "style": "danger" if overrides else "primary", "action_id": ids.DIGEST_SEND_CONFIRM,
             "value": value, "text": plain_text(t("digest.confirm_button", lang), BUTTON_TEXT)},
            {"type": "button", "action_id": ids.DIGEST_SEND_CANCEL, "value": value,
             "text": plain_text(t("common.cancel", lang), BUTTON_TEXT)},
        ]},
    ]}


# What a team member's `/digest send` overrides, named for the confirmation and the PM's note.
OVERRIDES = {"skip": "digest.override_skip", "approval": "digest.override_approval"}


def sent_by_other(project: Project, user_id: str, overrides: list[str], lang: str | None = None) -> dict[str, Any]:
    """The PM's DM: who posted this week's digest instead of them, and what it overrode (in
    `lang`, the PM's own language; default: the project's)."""
    lang = lang or project.language
    text = t("digest.sent_by_other", lang, user=mention(user_id), name=safe(project.name, 100),
             channel=channel_link(project.client_channel_id))
    if overrides:
        text += "\n" + t("digest.overrode", lang, what=format_list((t(OVERRIDES[o], lang) for o in overrides), lang))
    return {"text": text}



def note_modal(project: Project, week: str, note: str, *, max_length: int, lang: str | None = None) -> dict[str, Any]:
    """*Add a note*: the PM's short personal intro for the week's digest; the form in `lang`, the
    PM's own language (default: the project's). The note itself goes into the post as written."""
    lang = lang or project.language
    element: dict[str, Any] = {"type": "plain_text_input", "multiline": True, "max_length": max_length}
    if note:
        element["initial_value"] = note
    field = input_block(ids.DIGEST_NOTE_BLOCK, t("digest.note_label", lang), element)
    return form_modal(ids.DIGEST_NOTE_MODAL, t("digest.note_modal_title", lang), lang, [field],
                 {"project_id": project.id, "week": week})
