"""What /peta shows and how it looks: the post as a map point, state colours, sizes."""

from __future__ import annotations

from dataclasses import dataclass

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
PROBLEM_STATES = frozenset({"silent", "unstaffed"})
PROBLEM_EDGE = "#1b1b1b"
TEXT = "#1b1b1b"
AREA_TEXT = "#5f6368"
# Outline colour and width (points) per level: kelurahan hairlines, kecamatan firmer.
OUTLINE_STYLE: dict[str, tuple[str, float]] = {
    "provinsi": ("#3c4043", 2.4),
    "kota": ("#3c4043", 2.0),
    "kecamatan": ("#6b7075", 1.5),
    "kelurahan": ("#b4b8bd", 0.8),
}
LABEL_LIMIT = 30  # every post's code is written when a panel has at most this many posts
GROUP_LABEL_LIMIT = 24  # area names in the grid panel, likewise
DEFAULT_LABELS: dict[str, str] = {
    "ok": "Aman",
    "silent": "Senyap",
    "unstaffed": "Kosong",
    "closed": "Tutup",
    "paused": "Jeda",
    "geo_panel": "Menurut koordinat",
    "grid_panel": "Tanpa koordinat (per kelurahan)",
    "empty": "Tidak ada posko",
    "unplaced": "Posko bermasalah yang tidak muat di gambar ({count}):",
    "more": "+{count} lagi: ketik /pantau",
}


@dataclass(frozen=True)
class MapPoint:
    code: str
    name: str
    area: str
    state: str
    latitude: float | None
    longitude: float | None
    alert: bool = False  # an alert is open on the post

    @property
    def group(self) -> str:
        return STATE_GROUP.get(self.state, "closed")

    @property
    def placed(self) -> bool:
        return self.latitude is not None and self.longitude is not None

    @property
    def problem(self) -> bool:
        """Needs someone now: unstaffed, silent, or an alert still open. Always labelled."""
        return self.alert or self.state in PROBLEM_STATES

    @property
    def rank(self) -> int:
        """Label order: open alerts, then silent, then unstaffed, then the rest."""
        if self.alert:
            return 0
        if self.state == "silent":
            return 1
        if self.state == "unstaffed":
            return 2
        return 10


def rgb(colour: str) -> tuple[int, int, int]:
    """'#rrggbb' → (r, g, b) in 0..255 (tests count pixels near these)."""
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)
