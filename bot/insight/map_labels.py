"""Deterministic label placement for /peta: no label covers another, none covers a problem
post's marker, and a problem post whose label finds no room is reported, never dropped.

Greedy, in the order of importance given by the caller (problem posts first): each label
tries a fixed list of spots around its marker (inside it first, when the caller says the
text fits there) and takes the first that stays within the panel and clears everything
already placed. A grid of buckets keeps each test local, so thousands of posts stay fast.
All coordinates are figure pixels, origin bottom left.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

BUCKET_PX = 64.0
GAP_PX = 2.0
# Around the marker: right, left, above, below, then the four corners.
_SPOTS: tuple[tuple[int, int], ...] = (
    (1, 0),
    (-1, 0),
    (0, 1),
    (0, -1),
    (1, 1),
    (-1, 1),
    (1, -1),
    (-1, -1),
)


@dataclass(frozen=True, slots=True)
class Box:
    x0: float
    y0: float
    x1: float
    y1: float

    def overlaps(self, other: Box) -> bool:
        """True when the interiors meet (boxes that only touch do not overlap)."""
        return (
            self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1
        )

    def within(self, bounds: Box) -> bool:
        return (
            self.x0 >= bounds.x0
            and self.y0 >= bounds.y0
            and self.x1 <= bounds.x1
            and self.y1 <= bounds.y1
        )

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2

    @classmethod
    def around(cls, x: float, y: float, width: float, height: float) -> Box:
        return cls(x - width / 2, y - height / 2, x + width / 2, y + height / 2)


@dataclass(frozen=True, slots=True)
class LabelWish:
    """A label to place: ``text`` for the marker at (x, y) of radius ``radius``."""

    text: str
    x: float
    y: float
    radius: float
    width: float
    height: float
    rank: int  # lower goes first
    problem: bool = False
    inside: Box | None = None  # the marker's own box, when the text fits in it
    around: bool = True  # False: inside or nowhere (area names)
    kind: str = "post"
    size: float = 0.0  # font size, for whoever draws it


@dataclass(frozen=True, slots=True)
class PlacedLabel:
    text: str
    box: Box
    problem: bool
    inside: bool
    kind: str = "post"
    size: float = 0.0


@dataclass(slots=True)
class Placement:
    placed: list[PlacedLabel] = field(default_factory=list)
    unplaced: list[str] = field(default_factory=list)  # problem posts without room

    def extend(self, other: Placement) -> None:
        self.placed.extend(other.placed)
        self.unplaced.extend(other.unplaced)

    def codes(self) -> set[str]:
        return {label.text for label in self.placed if label.kind == "post"}


class _Buckets:
    """Boxes by the grid squares they touch; ``owner`` lets a marker's own label sit on it."""

    def __init__(self) -> None:
        self._cells: dict[tuple[int, int], list[tuple[Box, str | None]]] = {}

    @staticmethod
    def _keys(box: Box) -> Iterable[tuple[int, int]]:
        for i in range(math.floor(box.x0 / BUCKET_PX), math.floor(box.x1 / BUCKET_PX) + 1):
            for j in range(math.floor(box.y0 / BUCKET_PX), math.floor(box.y1 / BUCKET_PX) + 1):
                yield i, j

    def add(self, box: Box, owner: str | None = None) -> None:
        for key in self._keys(box):
            self._cells.setdefault(key, []).append((box, owner))

    def clear(self, box: Box, owner: str) -> bool:
        for key in self._keys(box):
            for other, other_owner in self._cells.get(key, ()):
                if other_owner == owner and other_owner is not None:
                    continue
                if box.overlaps(other):
                    return False
        return True


def _candidates(wish: LabelWish) -> Iterable[tuple[Box, bool]]:
    if wish.inside is not None:
        yield Box.around(*wish.inside.centre, wish.width, wish.height), True
    if not wish.around:
        return
    reach = wish.radius + GAP_PX
    diagonal = reach * math.sqrt(0.5)
    for dx, dy in _SPOTS:
        step = diagonal if dx and dy else reach
        x = wish.x + dx * (step + wish.width / 2) if dx else wish.x
        y = wish.y + dy * (step + wish.height / 2) if dy else wish.y
        yield Box.around(x, y, wish.width, wish.height), False


def place_labels(
    wishes: Sequence[LabelWish],
    bounds: Box,
    obstacles: Sequence[tuple[Box, str | None]] = (),
    taken: Sequence[Box] = (),
) -> Placement:
    """Place what fits, most important first (by ``rank``, then text): the same input
    always gives the same picture. ``obstacles`` are markers and names no label may cover
    (except the marker's own label, matched by owner = text); ``taken`` are labels already
    placed elsewhere."""
    buckets = _Buckets()
    for box, owner in obstacles:
        buckets.add(box, owner)
    for box in taken:
        buckets.add(box)
    result = Placement()
    for wish in sorted(wishes, key=lambda w: (w.rank, w.text)):
        for box, inside in _candidates(wish):
            if box.within(bounds) and buckets.clear(box, wish.text):
                buckets.add(box)
                result.placed.append(
                    PlacedLabel(wish.text, box, wish.problem, inside, wish.kind, wish.size)
                )
                break
        else:
            if wish.problem:
                result.unplaced.append(wish.text)
    return result


def any_overlap(labels: Sequence[PlacedLabel]) -> list[tuple[str, str]]:
    """Pairs of labels whose boxes overlap (for tests and checks; quadratic)."""
    return [
        (a.text, b.text)
        for index, a in enumerate(labels)
        for b in labels[index + 1 :]
        if a.box.overlaps(b.box)
    ]
