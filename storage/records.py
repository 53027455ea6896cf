"""Plain records returned by storage; no SQL and no behaviour beyond small derived facts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from operator import itemgetter
from typing import Any

from storage.db import Row, from_db

ROLES = ("officer", "supervisor", "admin", "liaison")
SEVERITIES = ("rendah", "sedang", "tinggi", "darurat")
ISSUE_STATUSES = ("baru", "diterima", "ditangani", "selesai", "ditolak")
WITHDRAWN = "ditarik"
"""How an issue its reporter withdrew is shown: stored as 'ditolak' with ``withdrawn_at``."""
AREA_LEVELS = ("provinsi", "kota", "kecamatan", "kelurahan")


@dataclass(frozen=True, slots=True)
class Area:
    id: int
    code: str
    name: str
    level: str
    parent_id: int | None
    group_chat_id: int | None = None
    group_topic_id: int | None = None

    @classmethod
    def from_row(cls, row: Row) -> Area:
        return cls(
            id=row["id"],
            code=row["code"],
            name=row["name"],
            level=row["level"],
            parent_id=row["parent_id"],
            group_chat_id=row["group_chat_id"],
            group_topic_id=row["group_topic_id"],
        )


@dataclass(frozen=True, slots=True)
class Post:
    id: int
    code: str
    name: str
    area_id: int
    latitude: float | None
    longitude: float | None
    radius_m: float | None
    min_staff: int
    hours: str
    watch_policy: dict[str, str] = field(default_factory=dict)
    paused_until: datetime | None = None
    state: str = "closed"
    state_since: datetime | None = None
    window_opened_at: datetime | None = None
    window_closes_at: datetime | None = None
    last_signal_at: datetime | None = None
    next_due_at: datetime | None = None
    due_kind: str | None = None
    version: int = 0
    short_since: datetime | None = None
    silence_reminded_at: datetime | None = None
    open_reminded_for: datetime | None = None

    @classmethod
    def from_row(cls, row: Row) -> Post:
        return cls.from_rows([row])[0]

    @classmethod
    def from_rows(cls, rows: Sequence[Row]) -> list[Post]:
        """Posts from rows of one query: the columns are looked up by name once (the first
        of a name wins, as with ``row[name]``), not for every row of a pass's thousands."""
        if not rows:
            return []
        first: dict[str, int] = {}
        for index, key in enumerate(rows[0].keys()):
            first.setdefault(key, index)
        # Columns added by a later migration are absent while an old schema is read.
        columns = [first.get(name) for name in POST_COLUMNS]
        missing = [i for i, column in enumerate(columns) if column is None]
        if any(i < _POST_OPTIONAL_FROM for i in missing):
            raise IndexError(f"No item with that key: {POST_COLUMNS[missing[0]]}")
        pick: Any = (
            itemgetter(*columns)
            if not missing
            else lambda row: [None if column is None else row[column] for column in columns]
        )
        posts: list[Post] = []
        for row in rows:
            values = pick(row)
            (
                id_, code, name, area_id, latitude, longitude, radius_m, min_staff, hours,
                policy, paused_until, state, state_since, window_opened_at, window_closes_at,
                last_signal_at, next_due_at, due_kind, version, short_since,
                silence_reminded_at, open_reminded_for,
            ) = values  # fmt: skip
            posts.append(
                cls(
                    id_,
                    code,
                    name,
                    area_id,
                    latitude,
                    longitude,
                    radius_m,
                    min_staff,
                    hours,
                    json.loads(policy) if policy else {},
                    from_db(paused_until),
                    state,
                    from_db(state_since),
                    from_db(window_opened_at),
                    from_db(window_closes_at),
                    from_db(last_signal_at),
                    from_db(next_due_at),
                    due_kind,
                    version,
                    from_db(short_since),
                    from_db(silence_reminded_at),
                    from_db(open_reminded_for),
                )
            )
        return posts


# The columns of a Post in the order of its fields; from _POST_OPTIONAL_FROM on, added by
# later migrations (None while an old schema is read).
POST_COLUMNS = (
    "id",
    "code",
    "name",
    "area_id",
    "latitude",
    "longitude",
    "radius_m",
    "min_staff",
    "hours",
    "watch_policy",
    "paused_until",
    "state",
    "state_since",
    "window_opened_at",
    "window_closes_at",
    "last_signal_at",
    "next_due_at",
    "due_kind",
    "version",
    "short_since",
    "silence_reminded_at",
    "open_reminded_for",
)
_POST_OPTIONAL_FROM = POST_COLUMNS.index("short_since")


@dataclass(frozen=True, slots=True)
class Member:
    id: int
    ref: str
    name: str
    telegram_id: int | None
    language: str | None
    client_language: str | None
    roles: frozenset[str]
    unreachable: bool = False
    """A send to them failed for good (blocked the bot, chat gone) and they have not
    written since."""

    def has(self, role: str) -> bool:
        return role in self.roles


@dataclass(frozen=True, slots=True)
class Shift:
    id: int
    member_id: int
    post_id: int
    started_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    distance_m: float | None
    inside_geofence: bool | None
    verified: bool
    live_message_id: int | None
    latitude: float | None = None
    longitude: float | None = None
    accuracy_m: float | None = None

    @classmethod
    def from_row(cls, row: Row) -> Shift:
        started = from_db(row["started_at"])
        assert started is not None
        inside = row["inside_geofence"]
        return cls(
            id=row["id"],
            member_id=row["member_id"],
            post_id=row["post_id"],
            started_at=started,
            ended_at=from_db(row["ended_at"]),
            end_reason=row["end_reason"],
            distance_m=row["distance_m"],
            inside_geofence=None if inside is None else bool(inside),
            verified=bool(row["verified"]),
            live_message_id=row["live_message_id"],
            latitude=row["latitude"],
            longitude=row["longitude"],
            accuracy_m=row["accuracy_m"],
        )


@dataclass(frozen=True, slots=True)
class Issue:
    id: int
    ref: str
    post_id: int
    reporter_id: int
    category: str
    severity: str
    text: str
    status: str
    created_at: datetime
    photo_count: int = 0
    latitude: float | None = None
    longitude: float | None = None
    assignee_id: int | None = None

    @classmethod
    def from_row(cls, row: Row) -> Issue:
        created = from_db(row["created_at"])
        assert created is not None
        keys = row.keys()
        return cls(
            id=row["id"],
            ref=row["ref"],
            post_id=row["post_id"],
            reporter_id=row["reporter_id"],
            category=row["category"],
            severity=row["severity"],
            text=row["text"],
            status=WITHDRAWN
            if "withdrawn_at" in keys and row["withdrawn_at"] is not None
            else row["status"],
            created_at=created,
            photo_count=row["photo_count"] if "photo_count" in keys else 0,
            latitude=row["latitude"],
            longitude=row["longitude"],
            assignee_id=row["assignee_id"],
        )


@dataclass(frozen=True, slots=True)
class Draft:
    member_id: int
    kind: str
    step: str
    data: dict[str, Any]
