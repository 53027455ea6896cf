"""Message catalogs: every user-facing text, Bahasa Indonesia first, English second.

Catalogs are TOML files in ``bot/locales``; a key missing in English falls back to
Indonesian so that a person always gets a sentence, never a key.
"""

from __future__ import annotations

import tomllib
from datetime import timedelta
from functools import cache
from importlib import resources
from typing import Any

LANGUAGES = ("id", "en")
DEFAULT_LANGUAGE = "id"


def _flatten(prefix: str, table: dict[str, Any], out: dict[str, str]) -> None:
    for key, value in table.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, dict):
            _flatten(name, value, out)
        else:
            out[name] = str(value)


@cache
def catalog(language: str) -> dict[str, str]:
    """``locales/<lang>.toml`` plus every ``locales/<lang>.<area>.toml`` (one per feature)."""
    folder = resources.files("bot").joinpath("locales")
    names = sorted(
        entry.name
        for entry in folder.iterdir()
        if entry.name == f"{language}.toml"
        or (entry.name.startswith(f"{language}.") and entry.name.endswith(".toml"))
    )
    flat: dict[str, str] = {}
    for name in names:
        part: dict[str, str] = {}
        _flatten("", tomllib.loads(folder.joinpath(name).read_text("utf-8")), part)
        clash = set(part) & set(flat)
        if clash:
            raise ValueError(f"catalog {name} repeats keys: {sorted(clash)[:5]}")
        flat.update(part)
    return flat


def t(language: str, key: str, **values: object) -> str:
    messages = catalog(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    template = messages.get(key)
    if template is None:
        template = catalog(DEFAULT_LANGUAGE)[key]
    return template.format(**values) if values else template


def label(language: str, group: str, name: str) -> str:
    """A configurable name (a category, say) in words, or the name itself if uncatalogued."""
    key = f"{group}.{name}"
    messages = catalog(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    return messages.get(key) or catalog(DEFAULT_LANGUAGE).get(key) or name.replace("_", " ")


def duration_text(language: str, delta: timedelta) -> str:
    """'45 menit', '2 jam 5 menit': how long, as people say it."""
    if delta < timedelta(minutes=1):
        return t(language, "duration.seconds", seconds=max(0, int(delta.total_seconds())))
    minutes = round(delta.total_seconds() / 60)
    hours, minutes = divmod(minutes, 60)
    if hours == 0:
        return t(language, "duration.minutes", minutes=minutes)
    if minutes == 0:
        return t(language, "duration.hours", hours=hours)
    return t(language, "duration.hours_minutes", hours=hours, minutes=minutes)
