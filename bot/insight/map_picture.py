"""The /peta picture: posts coloured by watch state, placed by coordinates where known,
over the outlines of the viewer's areas when they were imported; no basemap.

Every problem post (unstaffed, silent, an alert open) is labelled with its code whatever
the number of posts; labels are placed so that none covers another or a problem post's
marker (bot/insight/map_labels.py), and a problem post whose label finds no room is
listed in a box under the map, so none is silently lost.

Pure and thread-safe: only matplotlib's object API (``Figure`` + ``FigureCanvasAgg``) is
used, never ``pyplot``, so that rendering can run in a worker thread while the bot keeps
answering. Posts without coordinates go to a separate panel, in little blocks per area
(kelurahan), so a city where half the posts were never surveyed still reads at a glance.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from io import BytesIO
from typing import TYPE_CHECKING, Any

from bot.core.clock import wib
from bot.insight.boundaries import Outline
from bot.insight.geometry import bbox, label_point
from bot.insight.map_labels import Box, LabelWish, Placement, place_labels
from bot.insight.map_panels import (
    GeoFrame,
    GridFrame,
    block_name,
    draw_geo,
    draw_grid,
    geo_frame,
    grid_frame,
    marker_radius_px,
)
from bot.insight.map_style import (
    AREA_TEXT,
    COLOURS,
    DEFAULT_LABELS,
    DPI,
    GROUPS,
    HEIGHT_PX,
    LABEL_LIMIT,
    STATE_GROUP,
    TEXT,
    WIDTH_PX,
    MapPoint,
    rgb,
)

if TYPE_CHECKING:  # matplotlib and numpy load on first render: ~45 MB the bot need not carry
    from matplotlib.figure import Figure

__all__ = [
    "COLOURS",
    "DPI",
    "GROUPS",
    "HEIGHT_PX",
    "STATE_GROUP",
    "TEXT",
    "WIDTH_PX",
    "MapPicture",
    "MapPoint",
    "draw_map",
    "png_size",
    "render_map",
    "rgb",
    "state_counts",
]

TOP = 0.88
BOTTOM = 0.13  # the legend lives below
LABEL_PT = 13.0  # a code beside its marker on a busy map: still legible on a phone
BIG_LABEL_PT = 18.0  # on a small map
AREA_PT = 14.0
SIDE_PT = 15.0
SIDE_LINES = 6  # at most, below the heading, before "+N more"


@dataclass(frozen=True)
class MapPicture:
    png: bytes
    labels: Placement = field(default_factory=Placement)
    listed: list[str] = field(default_factory=list)  # problem posts written in the side box
    more: int = 0  # problem posts neither labelled nor listed (counted in the side box)

    def problem_codes_shown(self) -> set[str]:
        """Codes of problem posts readable in the picture: labelled, or in the side box."""
        return {label.text for label in self.labels.placed if label.problem} | set(self.listed)


def state_counts(points: Sequence[MapPoint]) -> dict[str, int]:
    counts = dict.fromkeys(GROUPS, 0)
    for point in points:
        counts[point.group] += 1
    return counts


def render_map(
    points: Sequence[MapPoint],
    title: str,
    now: datetime,
    labels: Mapping[str, str] | None = None,
    outlines: Sequence[Outline] = (),
) -> bytes:
    """A phone-sized PNG (1080×1350) of the posts; ``labels`` translates the words."""
    return draw_map(points, title, now, labels, outlines).png


class _Measure:
    """Text sizes in pixels, from the renderer that will draw them."""

    def __init__(self, figure: Figure) -> None:
        from matplotlib.font_manager import FontProperties

        self._renderer: Any = figure.canvas.get_renderer()  # type: ignore[attr-defined]
        self._fonts: dict[tuple[float, bool], Any] = {}
        self._font = FontProperties

    def __call__(self, text: str, size: float, bold: bool = True) -> tuple[float, float]:
        font = self._fonts.get((size, bold))
        if font is None:
            font = self._font(size=size, weight="bold" if bold else "normal")
            self._fonts[(size, bold)] = font
        width, height, _ = self._renderer.get_text_width_height_descent(text, font, ismath=False)
        return float(width), float(height)


@dataclass
class _Frames:
    geo: GeoFrame | None
    grid: GridFrame | None


def _frames(
    placed: Sequence[MapPoint],
    loose: Sequence[MapPoint],
    outlines: Sequence[Outline],
    bottom: float,
) -> _Frames:
    if placed and loose:
        share = len(placed) / (len(placed) + len(loose))
        split = bottom + (TOP - bottom) * min(0.7, max(0.35, 1 - share))
        return _Frames(
            geo_frame((0.05, split + 0.04, 0.9, TOP - split - 0.06), placed, outlines),
            grid_frame((0.03, bottom, 0.94, split - bottom), loose),
        )
    if placed:
        return _Frames(geo_frame((0.05, bottom, 0.9, TOP - bottom - 0.03), placed, outlines), None)
    return _Frames(None, grid_frame((0.03, bottom, 0.94, TOP - bottom), loose))


def _label_box(measure: _Measure, text: str, size: float) -> tuple[float, float]:
    width, height = measure(text, size)
    pad = 0.25 * size * DPI / 72
    return width + 2 * pad, height + 2 * pad


def _place_geo(frame: GeoFrame, measure: _Measure) -> Placement:
    points = frame.points
    radius = marker_radius_px(len(points))
    everyone = len(points) <= LABEL_LIMIT
    size = BIG_LABEL_PT if everyone else LABEL_PT
    wishes: list[LabelWish] = []
    obstacles: list[tuple[Box, str | None]] = []
    for point in points:
        x, y = frame.point_px(point)
        if point.problem:
            obstacles.append((Box.around(x, y, 2 * radius, 2 * radius), point.code))
        if point.problem or everyone:
            width, height = _label_box(measure, point.code, size)
            wishes.append(
                LabelWish(point.code, x, y, radius, width, height, point.rank, point.problem,
                          size=size)
            )  # fmt: skip
    placement = place_labels(wishes, frame.px, obstacles)
    names = _area_name_wishes(frame, measure)
    if names:
        taken = [label.box for label in placement.placed]
        placement.extend(place_labels(names, frame.px, obstacles, taken))
    return placement


def _area_name_wishes(frame: GeoFrame, measure: _Measure) -> list[LabelWish]:
    """Kecamatan names (kelurahan names when no kecamatan is drawn), where they fit inside
    their outline as drawn; placed after every post label, so they give way."""
    levels = {outline.level for outline in frame.outlines}
    level = "kecamatan" if "kecamatan" in levels else "kelurahan"
    wishes = []
    for outline in frame.outlines:
        if outline.level != level or not outline.parts:
            continue
        x, y = frame.to_px(*label_point(outline.parts))
        west, south, east, north = bbox(outline.parts)
        x0, y0 = frame.to_px(west, south)
        x1, y1 = frame.to_px(east, north)
        width, height = measure(outline.name, AREA_PT, bold=False)
        if width > (x1 - x0) * 0.9 or height > (y1 - y0) * 0.9:
            continue  # no space: the outline speaks for itself
        spot = Box.around(x, y, width + 4, height + 4)
        wishes.append(
            LabelWish(outline.name, x, y, 0, width + 4, height + 4, 100, inside=spot,
                      around=False, kind="area", size=AREA_PT)
        )  # fmt: skip
    return wishes


def _place_grid(frame: GridFrame, measure: _Measure) -> Placement:
    cells = frame.cells()
    everyone = len(cells) <= LABEL_LIMIT
    obstacles: list[tuple[Box, str | None]] = [
        (box, point.code) for point, box in cells if point.problem
    ]
    if frame.names_shown:
        for block in frame.blocks:
            x, y = frame.to_px(block.x, block.y + block.height + 0.5)
            width, height = measure(block_name(frame, block), frame.name_size, bold=False)
            obstacles.append((Box(x, y - height / 2, x + width, y + height / 2), None))
    wishes: list[LabelWish] = []
    for point, box in cells:
        if not (point.problem or everyone):
            continue
        inner = min(16.0, frame.cell * 0.85 / max(4, len(point.code)) / 1.39 / 0.6)
        x, y = box.centre
        if inner >= 7:
            width, height = measure(point.code, inner)
            if width <= frame.cell * 0.92 and height <= frame.cell * 0.9:
                wishes.append(
                    LabelWish(point.code, x, y, frame.cell / 2, width, height, point.rank,
                              point.problem, inside=box, around=False, size=inner)
                )  # fmt: skip
                continue
        width, height = _label_box(measure, point.code, LABEL_PT)
        wishes.append(
            LabelWish(point.code, x, y, frame.cell / 2, width, height, point.rank, point.problem,
                      size=LABEL_PT)
        )  # fmt: skip
    return place_labels(wishes, frame.bounds, obstacles)


def _place(frames: _Frames, measure: _Measure) -> Placement:
    placement = Placement()
    if frames.geo is not None:
        placement.extend(_place_geo(frames.geo, measure))
    if frames.grid is not None:
        placement.extend(_place_grid(frames.grid, measure))
    return placement


def _side_lines(
    codes: Sequence[str], words: Mapping[str, str], measure: _Measure
) -> tuple[list[str], list[str], int]:
    """The side box's lines (heading first), the codes they name, how many did not fit."""
    room = WIDTH_PX * 0.9
    lines: list[str] = []
    line = ""
    listed: list[str] = []
    for code in codes:
        candidate = f"{line}, {code}" if line else code
        if measure(candidate, SIDE_PT, bold=False)[0] <= room:
            line = candidate
            listed.append(code)
            continue
        if len(lines) + 1 == SIDE_LINES:
            break
        lines.append(line + ",")
        line = code
        listed.append(code)
    more = len(codes) - len(listed)
    if more:
        # The last line gives up codes until the count of the rest fits beside them.
        while True:
            tail = words["more"].format(count=more)
            text = f"{line}, {tail}" if line else tail
            if measure(text, SIDE_PT, bold=False)[0] <= room or not line:
                line = text
                break
            last = line.rsplit(", ", 1)
            line = last[0] if len(last) == 2 else ""
            listed.pop()
            more += 1
    lines.append(line)
    heading = words["unplaced"].format(count=len(codes))
    return [heading, *lines], listed, more


def _side_height(lines: int) -> float:
    """Figure fraction the side box takes for so many lines."""
    return (lines * SIDE_PT * 1.45 * DPI / 72 + 18) / HEIGHT_PX


def draw_map(
    points: Sequence[MapPoint],
    title: str,
    now: datetime,
    labels: Mapping[str, str] | None = None,
    outlines: Sequence[Outline] = (),
) -> MapPicture:
    """The picture and where its labels went (tests read the placement)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    words = {**DEFAULT_LABELS, **(labels or {})}
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)  # attaches itself: no pyplot, no global state
    figure.text(0.5, 0.975, title, ha="center", va="top", fontsize=30, weight="bold", color=TEXT)
    stamp = wib(now).strftime("%d/%m/%Y %H:%M WIB")
    figure.text(0.5, 0.93, stamp, ha="center", va="top", fontsize=22, color=TEXT)
    placed = [point for point in points if point.placed]
    loose = [point for point in points if not point.placed]
    if not points:
        figure.text(0.5, 0.5, words["empty"], ha="center", va="center", fontsize=28, color=TEXT)
        return MapPicture(_finish(figure, points, words))
    measure = _Measure(figure)
    frames = _frames(placed, loose, outlines, BOTTOM)
    placement = _place(frames, measure)
    side: tuple[list[str], list[str], int] = ([], [], 0)
    if placement.unplaced:
        # Make room for the box, then place again in the smaller panels: the second
        # placement is the one drawn and listed.
        first, _, _ = _side_lines(placement.unplaced, words, measure)
        frames = _frames(placed, loose, outlines, BOTTOM + _side_height(len(first)))
        placement = _place(frames, measure)
        if placement.unplaced:
            side = _side_lines(placement.unplaced, words, measure)
    if frames.geo is not None:
        draw_geo(figure, frames.geo, words)
    if frames.grid is not None:
        draw_grid(figure, frames.grid, words)
    _draw_labels(figure, placement, {point.code: point for point in points})
    lines, listed, more = side
    if lines:
        _draw_side_box(figure, lines)
    return MapPicture(_finish(figure, points, words), placement, listed, more)


def _draw_labels(figure: Figure, placement: Placement, by_code: Mapping[str, MapPoint]) -> None:
    from matplotlib.patches import Rectangle

    for label in placement.placed:
        x, y = label.box.centre
        if label.kind == "area":
            figure.text(x / WIDTH_PX, y / HEIGHT_PX, label.text, ha="center", va="center",
                        fontsize=label.size, color=AREA_TEXT, style="italic", zorder=5)  # fmt: skip
            continue
        point = by_code[label.text]
        if label.inside:
            figure.text(x / WIDTH_PX, y / HEIGHT_PX, label.text, ha="center", va="center",
                        fontsize=label.size, color="white", weight="bold", zorder=6)  # fmt: skip
            continue
        box = label.box
        figure.add_artist(
            Rectangle(
                (box.x0 / WIDTH_PX, box.y0 / HEIGHT_PX),
                (box.x1 - box.x0) / WIDTH_PX,
                (box.y1 - box.y0) / HEIGHT_PX,
                transform=figure.transFigure,
                facecolor="white",
                alpha=0.92,
                edgecolor=COLOURS[point.group] if point.problem else "#cfcfcf",
                linewidth=1.4 if point.problem else 0.8,
                zorder=5,
            )
        )
        figure.text(x / WIDTH_PX, y / HEIGHT_PX, label.text, ha="center", va="center",
                    fontsize=label.size, color=TEXT, weight="bold", zorder=6)  # fmt: skip


def _draw_side_box(figure: Figure, lines: Sequence[str]) -> None:
    from matplotlib.patches import FancyBboxPatch

    top = BOTTOM + _side_height(len(lines)) - 0.012
    step = SIDE_PT * 1.45 * DPI / 72 / HEIGHT_PX
    figure.add_artist(
        FancyBboxPatch(
            (0.035, BOTTOM - 0.004),
            0.93,
            top - BOTTOM + 0.01,
            boxstyle="round,pad=0.004",
            transform=figure.transFigure,
            facecolor="#fff7e6",
            edgecolor=COLOURS["silent"],
            linewidth=1.2,
        )
    )
    for index, line in enumerate(lines):
        figure.text(0.05, top - index * step, line, ha="left", va="top", fontsize=SIDE_PT,
                    color=TEXT, weight="bold" if index == 0 else "normal")  # fmt: skip


def _finish(figure: Figure, points: Sequence[MapPoint], words: Mapping[str, str]) -> bytes:
    from matplotlib.patches import Patch

    counts = state_counts(points)
    handles = [
        Patch(facecolor=COLOURS[group], edgecolor="none", label=f"{words[group]} {counts[group]}")
        for group in GROUPS
        if counts[group]
    ]
    if handles:
        figure.legend(
            handles=handles,
            loc="lower center",
            ncol=min(3, len(handles)),
            fontsize=24,
            frameon=False,
            handlelength=1.2,
            handleheight=1.2,
            columnspacing=1.5,
            bbox_to_anchor=(0.5, 0.005),
            labelcolor=TEXT,
        )
    buffer = BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
