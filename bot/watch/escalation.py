"""Who hears of an alert at each step: the nearest supervisors, then up the tree."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from storage.records import Area
from storage.watch import Recipient


@dataclass(frozen=True, slots=True)
class Level:
    area: Area
    recipients: tuple[Recipient, ...]


def _group(area: Area) -> list[Recipient]:
    if area.group_chat_id is None:
        return []
    return [Recipient(area.group_chat_id, None, None, area.group_topic_id)]


def levels_for(
    path: Sequence[Area],
    supervisors: Mapping[int, Sequence[Recipient]],
    admins: Sequence[Recipient],
) -> list[Level]:
    """The escalation ladder for a post whose area path (root first) is ``path``.

    Step 0 is the post's own area or, where it has no supervisors, the nearest ancestor
    that has; each later step is the next ancestor with supervisors, up to the city. An
    area's group chat hears of alerts at the step of that area; group chats of areas
    skipped on the way up (no supervisors of their own) join the next step. When no area
    on the path has supervisors, the admins are the one step, so no alert goes unheard.
    """
    ladder: list[Level] = []
    waiting_groups: list[Recipient] = []
    for area in reversed(path):
        people = list(supervisors.get(area.id, ()))
        waiting_groups += _group(area)
        if people:
            ladder.append(Level(area, tuple(people + waiting_groups)))
            waiting_groups = []
    if not ladder and path:
        ladder.append(Level(path[0], tuple(list(admins) + waiting_groups)))
    elif waiting_groups:
        last = ladder[-1]
        ladder[-1] = Level(last.area, last.recipients + tuple(waiting_groups))
    return [level for level in ladder if level.recipients]


def path_groups(path: Sequence[Area]) -> list[Recipient]:
    """The group chats bound to any area on ``path``: a posko bersama group hears what
    happens anywhere in its subtree (issue 10), nearest area first."""
    groups: list[Recipient] = []
    for area in reversed(path):
        groups += _group(area)
    return groups


def _key(recipient: Recipient) -> tuple[int, int | None]:
    return recipient.chat_id, recipient.topic_id


def opening(level: Level, path: Sequence[Area]) -> tuple[Recipient, ...]:
    """Who hears an alert or a report when it opens: the first step of the ladder and every
    group chat of the post's area path, each chat once."""
    seen = {_key(r) for r in level.recipients}
    extra: list[Recipient] = []
    for group in path_groups(path):
        if _key(group) not in seen:
            seen.add(_key(group))
            extra.append(group)
    return level.recipients + tuple(extra)


def climbing(level: Level, path: Sequence[Area]) -> tuple[Recipient, ...]:
    """Who hears it climb to ``level``: its people, not the groups (they heard it open)."""
    groups = {_key(g) for g in path_groups(path)}
    return tuple(r for r in level.recipients if r.member_id is not None or _key(r) not in groups)


def area_path(tree: Mapping[int, Area], area_id: int) -> list[Area]:
    """Root first, from an in-memory tree (the twin of storage.areas.path for passes that
    already hold the whole tree)."""
    chain: list[Area] = []
    current = tree.get(area_id)
    while current is not None and len(chain) < 16:
        chain.append(current)
        current = tree.get(current.parent_id) if current.parent_id is not None else None
    chain.reverse()
    return chain
