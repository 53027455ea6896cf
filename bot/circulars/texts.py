"""Short texts shared by a circular's copies, its report and its status view."""

from __future__ import annotations

from bot.core.i18n import t

SNIPPET_CHARS = 48
STAR_TENTHS_PER_COPY = 1
"""A paid broadcast message costs 0.1 Telegram Star."""


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1].rstrip() + "…"


def area_label(language: str, level: str | None, name: str | None) -> str:
    if name is None:
        return t(language, "circular.area_none")
    if level in ("kelurahan", "kecamatan"):
        return t(language, f"circular.area_{level}", name=name)
    return t(language, "circular.area_other", name=name)


def number(language: str, value: float) -> str:
    """10.000 and 0,5 in Indonesian; 10,000 and 0.5 in English (at most one decimal)."""
    whole = f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"
    if language == "id":
        return whole.replace(",", " ").replace(".", ",").replace(" ", ".")
    return whole


def paid_estimate(language: str, copies: int) -> str:
    """The preview's line on what a paid broadcast of ``copies`` messages costs."""
    stars = copies * STAR_TENTHS_PER_COPY / 10
    return t(
        language,
        "circular.preview_paid",
        messages=number(language, copies),
        stars=number(language, stars),
    )
