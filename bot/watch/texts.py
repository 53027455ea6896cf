"""Alert texts: what a supervisor reads, with the people to call.

Phone numbers appear only in private chats of supervisors and admins (a recipient with a
member id); group chats read names only, and officers never receive these texts.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from bot.core.clock import hhmm
from bot.core.i18n import t
from bot.roster.slots import required_staff
from storage.alerts import Person
from storage.records import Post

TAKE_PREFIX = "al:"
CALL_PREFIX = "pc:"
PEOPLE_SHOWN = 6


def people_text(language: str, people: Sequence[Person], private: bool) -> str:
    """One line naming the post's officers (on duty first); phones only when private."""
    if not people:
        return t(language, "followup.people_none")
    parts: list[str] = []
    for person in people[:PEOPLE_SHOWN]:
        key = "followup.person_on_duty" if person.on_duty else "followup.person"
        if private and person.phone:
            key += "_phone"
        parts.append(t(language, key, name=person.name, phone=person.phone or ""))
    if len(people) > PEOPLE_SHOWN:
        parts.append(t(language, "followup.more", count=len(people) - PEOPLE_SHOWN))
    return t(language, "followup.people", people="; ".join(parts))


def take_markup(language: str, alert_id: int) -> dict[str, Any]:
    label = t(language, "alert.take_button")
    return {"inline_keyboard": [[{"text": label, "callback_data": f"{TAKE_PREFIX}{alert_id}"}]]}


def call_markup(language: str, alert_id: int) -> dict[str, Any]:
    label = t(language, "followup.call_button")
    return {"inline_keyboard": [[{"text": label, "callback_data": f"{CALL_PREFIX}{alert_id}"}]]}


def _piket_detail(
    language: str,
    post: Post,
    people: Sequence[Person],
    rostered: int,
    since: datetime,
    private: bool,
) -> str:
    """Piket running: how many of the required are in, and who is rostered and absent
    (with a phone in a private chat), so the supervisor knows whom to call."""
    required = required_staff(post.min_staff, rostered)
    on_duty = sum(1 for person in people if person.on_duty)
    line = t(
        language, "roster_watch.alert_short", on_duty=on_duty, required=required, since=hhmm(since)
    )
    absent = [
        person
        for person in people
        if person.rostered and not person.on_duty and person.left_at is None
    ]
    gone = [person for person in people if person.rostered and person.left_at is not None]

    def who(person: Person) -> str:
        """The name, with the phone only in a private chat (a group never sees it)."""
        if private and person.phone:
            return t(language, "roster_watch.absent_phone", name=person.name, phone=person.phone)
        return str(person.name)

    if absent:
        names = [who(person) for person in absent[:PEOPLE_SHOWN]]
        if len(absent) > PEOPLE_SHOWN:
            names.append(t(language, "followup.more", count=len(absent) - PEOPLE_SHOWN))
        line += "\n" + t(language, "roster_watch.alert_absent", people="; ".join(names))
    if gone:
        names = [
            t(language, "roster_watch.left_person", name=who(person), time=hhmm(person.left_at))
            for person in gone[:PEOPLE_SHOWN]
            if person.left_at is not None
        ]
        line += "\n" + t(language, "roster_watch.alert_left", people="; ".join(names))
    return line


def alert_text(
    language: str,
    post: Post,
    kind: str,
    since: datetime | None,
    now: datetime,
    people: Sequence[Person],
    private: bool,
    lead: str,
) -> str:
    on_duty = [person.name for person in people if person.on_duty]
    rostered = sum(1 for person in people if person.rostered)
    if kind == "unstaffed" and rostered:
        detail = _piket_detail(language, post, people, rostered, since or now, private)
    elif kind == "silent":
        # who is on duty stands in the people line below, with how to reach them
        detail = t(language, "alert.detail_silent", since=hhmm(since) if since else "-")
    elif post.min_staff <= 1:
        detail = t(language, "alert.detail_unstaffed", since=hhmm(since) if since else hhmm(now))
    else:
        detail = t(
            language,
            "followup.detail_short",
            on_duty=len(on_duty),
            min_staff=post.min_staff,
            since=hhmm(since) if since else hhmm(now),
        )
    detail += "\n" + people_text(language, people, private)
    return t(
        language,
        "alert.body",
        title=t(language, f"alert.title_{kind}"),
        post=post.code,
        name=post.name,
        detail=detail,
        lead=lead,
    )
