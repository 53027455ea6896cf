"""The recap's piket section (SPEC §9): per kecamatan, the slots that started in the period,
and how many were hadir, terlambat, tidak hadir, still awaited (belum hadir) and left early
(pulang awal); then the posts with the most absent or late slots.

Pure: the slots come with the day's facts (storage/attendance.py via storage/recap.py) and
each is judged by bot/roster/standing.py. Posts without a roster add nothing, and a scope
without any started slot has no section at all.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from bot.core.i18n import t
from bot.roster.attendance import Mark
from bot.roster.standing import standing
from storage.attendance import SlotFact
from storage.records import Area, Post

KECAMATAN_IN_TEXT = 5
WORST_POSTS = 5


@dataclass(frozen=True, slots=True)
class Tally:
    slots: int = 0
    present: int = 0
    late: int = 0
    absent: int = 0
    waiting: int = 0
    left_early: int = 0

    @property
    def missed(self) -> int:
        """Slots that went wrong: absent or late."""
        return self.absent + self.late

    def add(self, mark: Mark, left_early: bool) -> Tally:
        return Tally(
            self.slots + 1,
            self.present + (mark is Mark.PRESENT),
            self.late + (mark is Mark.LATE),
            self.absent + (mark is Mark.ABSENT),
            self.waiting + (mark is Mark.WAITING),
            self.left_early + left_early,
        )


@dataclass(frozen=True, slots=True)
class AreaTally:
    area_id: int
    name: str
    is_kecamatan: bool
    tally: Tally


@dataclass(frozen=True, slots=True)
class PostTally:
    post_id: int
    code: str
    tally: Tally


@dataclass(frozen=True, slots=True)
class AttendanceRecap:
    total: Tally
    areas: list[AreaTally]  # one per kecamatan with slots, most absent/late first
    posts: list[PostTally]  # every post with slots, in code order

    def worst(self, limit: int = WORST_POSTS) -> list[PostTally]:
        """The posts with the most absent and late slots (absent weighs first on a tie)."""
        needing = [post for post in self.posts if post.tally.missed]
        needing.sort(key=lambda post: (-post.tally.missed, -post.tally.absent, post.code))
        return needing[:limit]


def kecamatan_of(tree: Mapping[int, Area], area_id: int) -> Area | None:
    """The kecamatan an area lies in (itself if it is one); else the area itself, so a post
    hung directly under a kota still gets a line of its own."""
    current = tree.get(area_id)
    seen: set[int] = set()
    while current is not None and current.id not in seen:
        if current.level == "kecamatan":
            return current
        seen.add(current.id)
        current = tree.get(current.parent_id) if current.parent_id is not None else None
    return tree.get(area_id)


def summarise_attendance(
    tree: Mapping[int, Area],
    posts: Iterable[Post],
    slots: Sequence[SlotFact],
    post_ids: Collection[int],
    until: datetime,
    now: datetime,
) -> AttendanceRecap | None:
    """The section for the posts in ``post_ids``: slots started by ``until`` (the end of the
    period looked at), each judged at ``now``. None when no such slot exists."""
    by_post: dict[int, Tally] = {}
    for slot in slots:
        if slot.post_id not in post_ids or slot.start_at > until:
            continue
        mark = standing(
            slot.start_at,
            slot.end_at,
            slot.arrived_at,
            slot.left_at,
            slot.outcome,
            slot.late_minutes,
            now,
        )
        by_post[slot.post_id] = by_post.get(slot.post_id, Tally()).add(mark.mark, mark.left_early)
    if not by_post:
        return None
    total = Tally()
    by_area: dict[int, Tally] = {}
    names: dict[int, tuple[str, bool]] = {}
    post_tallies: list[PostTally] = []
    for post in posts:
        tally = by_post.get(post.id)
        if tally is None:
            continue
        post_tallies.append(PostTally(post.id, post.code, tally))
        total = _sum(total, tally)
        area = kecamatan_of(tree, post.area_id)
        key = area.id if area is not None else -1
        names.setdefault(key, (area.name, area.level == "kecamatan") if area else ("-", False))
        by_area[key] = _sum(by_area.get(key, Tally()), tally)
    areas = [
        AreaTally(area_id, names[area_id][0], names[area_id][1], tally)
        for area_id, tally in by_area.items()
    ]
    areas.sort(key=lambda area: (-area.tally.missed, -area.tally.absent, area.name))
    post_tallies.sort(key=lambda post: post.code)
    return AttendanceRecap(total, areas, post_tallies)


def _sum(a: Tally, b: Tally) -> Tally:
    return Tally(
        a.slots + b.slots,
        a.present + b.present,
        a.late + b.late,
        a.absent + b.absent,
        a.waiting + b.waiting,
        a.left_early + b.left_early,
    )


def render_lines(language: str, recap: AttendanceRecap | None) -> list[str]:
    if recap is None:
        return []

    def tr(key: str, **values: object) -> str:
        return t(language, f"attendance_recap.{key}", **values)

    def counts(tally: Tally) -> dict[str, int]:
        return {
            "slots": tally.slots,
            "present": tally.present,
            "late": tally.late,
            "absent": tally.absent,
            "waiting": tally.waiting,
            "left": tally.left_early,
        }

    lines = [tr("title", **counts(recap.total))]
    for area in recap.areas[:KECAMATAN_IN_TEXT]:
        name = tr("kecamatan", name=area.name) if area.is_kecamatan else area.name
        lines.append(tr("area_line", area=name, **counts(area.tally)))
    if len(recap.areas) > KECAMATAN_IN_TEXT:
        lines.append(tr("area_more", count=len(recap.areas) - KECAMATAN_IN_TEXT))
    worst = recap.worst()
    if worst:
        lines.append(tr("worst_title"))
        for rank, post in enumerate(worst, start=1):
            lines.append(
                tr(
                    "worst_line",
                    rank=rank,
                    post=post.code,
                    absent=post.tally.absent,
                    late=post.tally.late,
                    slots=post.tally.slots,
                )
            )
    return lines
