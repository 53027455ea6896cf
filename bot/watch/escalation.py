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
