"""The two panels of /peta, as frames in figure pixels (so labels can be placed before
anything is drawn) and as drawings: posts by coordinates over the area outlines, and
posts without coordinates in little blocks per kelurahan."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.insight.boundaries import Outline
from bot.insight.map_labels import Box
from bot.insight.map_style import (
    COLOURS,
    DPI,
    DRAW_ORDER,
    GROUP_LABEL_LIMIT,
    HEIGHT_PX,
    LABEL_LIMIT,
    OUTLINE_STYLE,
    PROBLEM_EDGE,
    TEXT,
    WIDTH_PX,
    MapPoint,
    rgb,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TITLE_SHARE = 0.08  # of a grid panel's height, for its title


def _pixels(box: tuple[float, float, float, float]) -> Box:
    x, y, w, h = box
    return Box(x * WIDTH_PX, y * HEIGHT_PX, (x + w) * WIDTH_PX, (y + h) * HEIGHT_PX)


def _fraction(box: Box) -> tuple[float, float, float, float]:
    return (
        box.x0 / WIDTH_PX,
        box.y0 / HEIGHT_PX,
        (box.x1 - box.x0) / WIDTH_PX,
        (box.y1 - box.y0) / HEIGHT_PX,
    )


def marker_size(count: int) -> float:
    """Scatter area in points²: big dots for a kelurahan, small ones for a city."""
    if count <= LABEL_LIMIT:
        return 700.0
    if count <= 300:
        return 130.0
    if count <= 1000:
        return 55.0
    return 26.0


def marker_radius_px(count: int) -> float:
    return math.sqrt(marker_size(count)) / 2 * DPI / 72


# --- posts by coordinates ---------------------------------------------------------------


@dataclass(frozen=True)
class GeoFrame:
    px: Box
    lon: tuple[float, float]
    lat: tuple[float, float]
    points: list[MapPoint]
    outlines: list[Outline]

    def to_px(self, lon: float, lat: float) -> tuple[float, float]:
        x = self.px.x0 + (lon - self.lon[0]) / (self.lon[1] - self.lon[0]) * (
            self.px.x1 - self.px.x0
        )
        y = self.px.y0 + (lat - self.lat[0]) / (self.lat[1] - self.lat[0]) * (
            self.px.y1 - self.px.y0
        )
        return x, y

    def point_px(self, point: MapPoint) -> tuple[float, float]:
        assert point.longitude is not None and point.latitude is not None
        return self.to_px(point.longitude, point.latitude)


def geo_frame(
    box: tuple[float, float, float, float],
    points: Sequence[MapPoint],
    outlines: Sequence[Outline],
) -> GeoFrame:
    """Fill the panel while keeping distances true: a degree of longitude is shorter than
    one of latitude away from the equator, so widen whichever span is too narrow. The
    outlines of the scope are in the frame too, so an area is seen whole."""
    lons = [float(p.longitude) for p in points if p.longitude is not None]
    lats = [float(p.latitude) for p in points if p.latitude is not None]
    for outline in outlines:
        for polygon in outline.parts:
            for lon, lat in polygon[0]:
                lons.append(lon)
                lats.append(lat)
    shrink = max(0.2, math.cos(math.radians(sum(lats) / len(lats))))
    centre_lon = (min(lons) + max(lons)) / 2
    centre_lat = (min(lats) + max(lats)) / 2
    margin = 1.16 if not outlines else 1.06
    span_lon = max((max(lons) - min(lons)) * margin, 0.008) * shrink  # latitude-sized units
    span_lat = max((max(lats) - min(lats)) * margin, 0.008)
    box_ratio = (box[2] * WIDTH_PX) / (box[3] * HEIGHT_PX)
    if span_lon / span_lat < box_ratio:
        span_lon = span_lat * box_ratio
    else:
        span_lat = span_lon / box_ratio
    half_lon = span_lon / shrink / 2
    return GeoFrame(
        _pixels(box),
        (centre_lon - half_lon, centre_lon + half_lon),
        (centre_lat - span_lat / 2, centre_lat + span_lat / 2),
        list(points),
        list(outlines),
    )


def draw_geo(figure: Figure, frame: GeoFrame, words: Mapping[str, str]) -> None:
    import numpy as np

    ax = figure.add_axes(_fraction(frame.px))
    for outline in frame.outlines:
        colour, width = OUTLINE_STYLE.get(outline.level, OUTLINE_STYLE["kelurahan"])
        for polygon in outline.parts:
            for ring in polygon:
                ax.plot(
                    [p[0] for p in ring],
                    [p[1] for p in ring],
                    color=colour,
                    linewidth=width,
                    solid_joinstyle="round",
                    zorder=1 if outline.level == "kelurahan" else 2,
                )
    points = frame.points
    lons = np.array([point.longitude for point in points], dtype=float)
    lats = np.array([point.latitude for point in points], dtype=float)
    groups = np.array([point.group for point in points])
    problems = np.array([point.problem for point in points])
    size = marker_size(len(points))
    thin = 0.6 if len(points) > LABEL_LIMIT else 1.5
    for group in DRAW_ORDER:
        for problem in (False, True):  # problem posts on top, with a dark ring
            mask = (groups == group) & (problems == problem)
            if mask.any():
                ax.scatter(
                    lons[mask],
                    lats[mask],
                    s=size,
                    c=COLOURS[group],
                    edgecolors=PROBLEM_EDGE if problem else "white",
                    linewidths=thin * 1.6 if problem else thin,
                    zorder=4 if problem else 3,
                )
    ax.set_xlim(*frame.lon)
    ax.set_ylim(*frame.lat)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("#f7f7f4")
    for spine in ax.spines.values():
        spine.set_color("#cfcfcf")
    ax.set_title(words["geo_panel"], fontsize=20, color=TEXT, loc="left")


# --- posts without coordinates ----------------------------------------------------------


@dataclass(frozen=True)
class Block:
    area: str
    points: list[MapPoint]
    width: int
    height: int
    x: int = 0
    y: int = 0


def pack(points: Sequence[MapPoint], aspect: float) -> tuple[list[Block], int, int]:
    """Shelf-pack one square-ish block of cells per area; returns blocks with their top-left
    cell, and the grid's width and height in cells (gaps and a label row included).
    Problem posts come first in their block, where their labels have the gap to go to."""
    by_area: dict[str, list[MapPoint]] = {}
    for point in sorted(points, key=lambda p: (p.area, not p.problem, p.code)):
        by_area.setdefault(point.area, []).append(point)
    shapes: list[Block] = []
    for area, members in by_area.items():
        width = math.ceil(math.sqrt(len(members)))
        height = math.ceil(len(members) / width)
        shapes.append(Block(area, members, width, height))
    labelled = len(shapes) <= GROUP_LABEL_LIMIT
    gap_below = 1 if labelled else 0
    cells = sum((b.width + 1) * (b.height + 1 + gap_below) for b in shapes)
    columns = max(max(b.width for b in shapes) + 1, math.ceil(math.sqrt(cells * aspect)), 8)
    placed: list[Block] = []
    x = y = shelf = 0
    for block in shapes:
        if x and x + block.width > columns:
            x, y, shelf = 0, y + shelf, 0
        placed.append(Block(block.area, block.points, block.width, block.height, x, y))
        x += block.width + 1
        shelf = max(shelf, block.height + 1 + gap_below)
    rows = y + shelf - 1  # no gap after the last shelf
    return placed, columns, max(rows, 1)


@dataclass(frozen=True)
class GridFrame:
    px: Box  # the cells' image, exactly
    bounds: Box  # where labels may go: the panel below its title
    blocks: list[Block]
    columns: int
    rows: int

    @property
    def cell(self) -> float:
        return (self.px.x1 - self.px.x0) / self.columns

    def to_px(self, column: float, row: float) -> tuple[float, float]:
        return self.px.x0 + column * self.cell, self.px.y1 - row * self.cell

    def cells(self) -> list[tuple[MapPoint, Box]]:
        """Every post with its cell in pixels."""
        found = []
        for block in self.blocks:
            for index, point in enumerate(block.points):
                row, column = divmod(index, block.width)
                x0, y1 = self.to_px(block.x + column, block.y + row)
                found.append((point, Box(x0, y1 - self.cell, x0 + self.cell, y1)))
        return found

    @property
    def names_shown(self) -> bool:
        return len(self.blocks) <= GROUP_LABEL_LIMIT and self.name_size >= 8

    @property
    def name_size(self) -> float:
        return min(16.0, self.cell * 0.55 / 1.39)


def grid_frame(box: tuple[float, float, float, float], points: Sequence[MapPoint]) -> GridFrame:
    outer = _pixels(box)
    width = outer.x1 - outer.x0
    height = (outer.y1 - outer.y0) * (1 - TITLE_SHARE)
    blocks, columns, rows = pack(points, width / height)
    columns = max(columns, math.ceil(rows * width / height))
    cell = min(width / columns, height / rows)
    x0 = outer.x0 + (width - columns * cell) / 2
    y1 = outer.y0 + height - (height - rows * cell) / 2
    image = Box(x0, y1 - rows * cell, x0 + columns * cell, y1)
    return GridFrame(image, Box(outer.x0, outer.y0, outer.x1, y1), blocks, columns, rows)


def block_name(frame: GridFrame, block: Block) -> str:
    room = max(1, int((block.width + 0.8) * frame.cell / (frame.name_size * 1.39 * 0.6)))
    return block.area if len(block.area) <= room else block.area[: room - 1] + "…"


def draw_grid(figure: Figure, frame: GridFrame, words: Mapping[str, str]) -> None:
    import numpy as np

    ax = figure.add_axes(_fraction(frame.px))
    image = np.ones((frame.rows, frame.columns, 3), dtype=float)
    colours = {group: np.array(rgb(colour)) / 255 for group, colour in COLOURS.items()}
    for block in frame.blocks:
        for index, point in enumerate(block.points):
            row, column = divmod(index, block.width)
            image[block.y + row, block.x + column] = colours[point.group]
    ax.imshow(
        image,
        interpolation="nearest",
        aspect="auto",
        extent=(0, frame.columns, frame.rows, 0),
    )
    if frame.cell >= 6:  # a dark frame on problem cells, like the ring on the map
        from matplotlib.patches import Rectangle

        for block in frame.blocks:
            for index, point in enumerate(block.points):
                if point.problem:
                    row, column = divmod(index, block.width)
                    ax.add_patch(
                        Rectangle(
                            (block.x + column + 0.06, block.y + row + 0.06),
                            0.88,
                            0.88,
                            fill=False,
                            edgecolor=PROBLEM_EDGE,
                            linewidth=min(2.0, frame.cell / 12),
                        )
                    )
    if frame.names_shown:
        for block in frame.blocks:
            ax.text(
                block.x,
                block.y + block.height + 0.5,
                block_name(frame, block),
                ha="left",
                va="center",
                fontsize=frame.name_size,
                color=TEXT,
            )
    ax.set_xlim(0, frame.columns)
    ax.set_ylim(frame.rows, 0)
    ax.set_axis_off()
    ax.set_title(words["grid_panel"], fontsize=20, color=TEXT, loc="left")
