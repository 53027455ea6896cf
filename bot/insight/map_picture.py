"""The /peta picture: posts coloured by watch state, placed by coordinates where known.

Pure and thread-safe: only matplotlib's object API (``Figure`` + ``FigureCanvasAgg``) is
used, never ``pyplot``, so that rendering can run in a worker thread while the bot keeps
answering. Posts without coordinates go to a separate panel, in little blocks per area
(kelurahan), so a city where half the posts were never surveyed still reads at a glance.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # matplotlib and numpy load on first render: ~45 MB the bot need not carry
    from matplotlib.figure import Figure

from bot.core.clock import wib

WIDTH_PX = 1080
HEIGHT_PX = 1350
DPI = 100

# posts.state → the colour group shown on the map.
STATE_GROUP: dict[str, str] = {
    "staffed": "ok",
    "reminded": "ok",
    "silent": "silent",
    "unstaffed": "unstaffed",
    "opening": "unstaffed",
    "closed": "closed",
    "paused": "paused",
}
# Order of the legend; problems are drawn last so that they stay on top.
GROUPS = ("ok", "silent", "unstaffed", "closed", "paused")
DRAW_ORDER = ("closed", "paused", "ok", "unstaffed", "silent")
COLOURS: dict[str, str] = {
    "ok": "#2e9d3a",  # green: heard from
    "silent": "#f28c00",  # orange
    "unstaffed": "#d62728",  # red
    "closed": "#8d99ae",  # slate grey (kept off pure grey so text never looks like it)
    "paused": "#1f6fd1",  # blue
}
DEFAULT_LABELS: dict[str, str] = {
    "ok": "Aman",
    "silent": "Senyap",
    "unstaffed": "Kosong",
    "closed": "Tutup",
    "paused": "Jeda",
    "geo_panel": "Menurut koordinat",
    "grid_panel": "Tanpa koordinat (per kelurahan)",
    "empty": "Tidak ada posko",
}
TEXT = "#1b1b1b"
LABEL_LIMIT = 30  # post codes are written only when a panel has at most this many posts
GROUP_LABEL_LIMIT = 24  # area names in the grid panel, likewise


@dataclass(frozen=True)
class MapPoint:
    code: str
    name: str
    area: str
    state: str
    latitude: float | None
    longitude: float | None

    @property
    def group(self) -> str:
        return STATE_GROUP.get(self.state, "closed")

    @property
    def placed(self) -> bool:
        return self.latitude is not None and self.longitude is not None


def rgb(colour: str) -> tuple[int, int, int]:
    """'#rrggbb' → (r, g, b) in 0..255 (tests count pixels near these)."""
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


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
) -> bytes:
    """A phone-sized PNG (1080×1350) of the posts; ``labels`` translates the words."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    words = {**DEFAULT_LABELS, **(labels or {})}
    figure = Figure(figsize=(WIDTH_PX / DPI, HEIGHT_PX / DPI), dpi=DPI, facecolor="white")
    FigureCanvasAgg(figure)  # attaches itself: no pyplot, no global state
    figure.text(0.5, 0.975, title, ha="center", va="top", fontsize=30, weight="bold", color=TEXT)
    stamp = wib(now).strftime("%d/%m/%Y %H:%M WIB")
    figure.text(0.5, 0.93, stamp, ha="center", va="top", fontsize=22, color=TEXT)
    placed = [point for point in points if point.placed]
    loose = [point for point in points if not point.placed]
    top, bottom = 0.88, 0.13
    if not points:
        figure.text(0.5, 0.5, words["empty"], ha="center", va="center", fontsize=28, color=TEXT)
    elif placed and loose:
        share = len(placed) / len(points)
        split = bottom + (top - bottom) * min(0.7, max(0.35, 1 - share))
        _geo_panel(figure, (0.05, split + 0.04, 0.9, top - split - 0.06), placed, words)
        _grid_panel(figure, (0.03, bottom, 0.94, split - bottom), loose, words)
    elif placed:
        _geo_panel(figure, (0.05, bottom, 0.9, top - bottom - 0.03), placed, words)
    else:
        _grid_panel(figure, (0.03, bottom, 0.94, top - bottom), loose, words)
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


def _marker_size(count: int) -> float:
    """Scatter area in points²: big dots for a kelurahan, small ones for a city."""
    if count <= LABEL_LIMIT:
        return 700.0
    if count <= 300:
        return 130.0
    if count <= 1000:
        return 55.0
    return 26.0


def _geo_panel(
    figure: Figure,
    box: tuple[float, float, float, float],
    points: Sequence[MapPoint],
    words: Mapping[str, str],
) -> None:
    import numpy as np

    ax = figure.add_axes(box)
    lons = np.array([point.longitude for point in points], dtype=float)
    lats = np.array([point.latitude for point in points], dtype=float)
    groups = np.array([point.group for point in points])
    size = _marker_size(len(points))
    for group in DRAW_ORDER:
        mask = groups == group
        if mask.any():
            ax.scatter(
                lons[mask],
                lats[mask],
                s=size,
                c=COLOURS[group],
                edgecolors="white",
                linewidths=0.6 if len(points) > LABEL_LIMIT else 1.5,
                zorder=3,
            )
    # Fill the panel while keeping distances true: a degree of longitude is shorter than
    # one of latitude away from the equator, so widen whichever span is too narrow.
    shrink = max(0.2, math.cos(math.radians(float(lats.mean()))))
    centre_lon = (float(lons.min()) + float(lons.max())) / 2
    centre_lat = (float(lats.min()) + float(lats.max())) / 2
    span_lon = max(float(np.ptp(lons)) * 1.16, 0.008) * shrink  # in latitude-sized units
    span_lat = max(float(np.ptp(lats)) * 1.16, 0.008)
    box_ratio = (box[2] * WIDTH_PX) / (box[3] * HEIGHT_PX)
    if span_lon / span_lat < box_ratio:
        span_lon = span_lat * box_ratio
    else:
        span_lat = span_lon / box_ratio
    ax.set_xlim(centre_lon - span_lon / shrink / 2, centre_lon + span_lon / shrink / 2)
    ax.set_ylim(centre_lat - span_lat / 2, centre_lat + span_lat / 2)
    if len(points) <= LABEL_LIMIT:
        for point in points:
            ax.annotate(
                point.code,
                (point.longitude, point.latitude),  # type: ignore[arg-type]
                xytext=(0, 17),
                textcoords="offset points",
                ha="center",
                va="bottom",
                fontsize=18,
                color=TEXT,
                zorder=4,
            )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_facecolor("#f7f7f4")
    for spine in ax.spines.values():
        spine.set_color("#cfcfcf")
    ax.set_title(words["geo_panel"], fontsize=20, color=TEXT, loc="left")


@dataclass(frozen=True)
class _Block:
    area: str
    points: list[MapPoint]
    width: int
    height: int
    x: int = 0
    y: int = 0


def _pack(points: Sequence[MapPoint], aspect: float) -> tuple[list[_Block], int, int]:
    """Shelf-pack one square-ish block of cells per area; returns blocks with their top-left
    cell, and the grid's width and height in cells (gaps and a label row included)."""
    by_area: dict[str, list[MapPoint]] = {}
    for point in sorted(points, key=lambda p: (p.area, p.code)):
        by_area.setdefault(point.area, []).append(point)
    shapes: list[_Block] = []
    for area, members in by_area.items():
        width = math.ceil(math.sqrt(len(members)))
        height = math.ceil(len(members) / width)
        shapes.append(_Block(area, members, width, height))
    labelled = len(shapes) <= GROUP_LABEL_LIMIT
    gap_below = 1 if labelled else 0
    cells = sum((b.width + 1) * (b.height + 1 + gap_below) for b in shapes)
    columns = max(max(b.width for b in shapes) + 1, math.ceil(math.sqrt(cells * aspect)), 8)
    placed: list[_Block] = []
    x = y = shelf = 0
    for block in shapes:
        if x and x + block.width > columns:
            x, y, shelf = 0, y + shelf, 0
        placed.append(_Block(block.area, block.points, block.width, block.height, x, y))
        x += block.width + 1
        shelf = max(shelf, block.height + 1 + gap_below)
    rows = y + shelf - 1  # no gap after the last shelf
    return placed, columns, max(rows, 1)


def _grid_panel(
    figure: Figure,
    box: tuple[float, float, float, float],
    points: Sequence[MapPoint],
    words: Mapping[str, str],
) -> None:
    import numpy as np

    ax = figure.add_axes(box)
    panel_w = box[2] * WIDTH_PX
    panel_h = box[3] * HEIGHT_PX * 0.9  # the panel title takes the rest
    blocks, columns, rows = _pack(points, panel_w / panel_h)
    columns = max(columns, math.ceil(rows * panel_w / panel_h))
    image = np.ones((rows, columns, 3), dtype=float)
    colours = {group: np.array(rgb(colour)) / 255 for group, colour in COLOURS.items()}
    for block in blocks:
        for index, point in enumerate(block.points):
            row, column = divmod(index, block.width)
            image[block.y + row, block.x + column] = colours[point.group]
    ax.imshow(image, interpolation="nearest", aspect="equal", extent=(0, columns, rows, 0))
    cell_px = min(panel_w / columns, panel_h / rows)
    labelled = len(blocks) <= GROUP_LABEL_LIMIT
    if labelled:
        size = min(16.0, cell_px * 0.55 / 1.39)
        if size >= 8:
            for block in blocks:
                room = max(1, int((block.width + 0.8) * cell_px / (size * 1.39 * 0.6)))
                name = block.area if len(block.area) <= room else block.area[: room - 1] + "…"
                ax.text(
                    block.x,
                    block.y + block.height + 0.5,
                    name,
                    ha="left",
                    va="center",
                    fontsize=size,
                    color=TEXT,
                )
    if len(points) <= LABEL_LIMIT:
        for block in blocks:
            for index, point in enumerate(block.points):
                row, column = divmod(index, block.width)
                size = min(16.0, cell_px * 0.85 / max(4, len(point.code)) / 1.39 / 0.6)
                if size >= 7:
                    ax.text(
                        block.x + column + 0.5,
                        block.y + row + 0.5,
                        point.code,
                        ha="center",
                        va="center",
                        fontsize=size,
                        color="white",
                        weight="bold",
                    )
    ax.set_xlim(0, columns)
    ax.set_ylim(rows, 0)
    ax.set_axis_off()
    ax.set_title(words["grid_panel"], fontsize=20, color=TEXT, loc="left")


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        raise ValueError("not a PNG")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
