"""Short texts shared by a circular's copies, its report and its status view."""

from __future__ import annotations

from bot.core.i18n import t

SNIPPET_CHARS = 48


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def area_label(language: str, level: str | None, name: str | None) -> str:
    if name is None:
        return t(language, "circular.area_none")
    if level in ("kelurahan", "kecamatan"):
        return t(language, f"circular.area_{level}", name=name)
    return t(language, "circular.area_other", name=name)
