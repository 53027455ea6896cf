"""What '/laporan <word>' lists: a status, a severity or a post code (issue 9), parsed."""

from __future__ import annotations

import re
from dataclasses import dataclass

from storage.records import ISSUE_STATUSES, SEVERITIES

OPEN_STATUSES = ("baru", "diterima", "ditangani")


@dataclass(frozen=True, slots=True)
class Filter:
    """What '/laporan <word>' lists: statuses, and optionally one severity or one post.
    ``token`` names it in the 'more' button."""

    token: str
    statuses: tuple[str, ...]
    severity: str | None = None
    post_code: str | None = None


_POST_CODE = re.compile(r"(?=.*[-0-9])[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
"""A post code has a digit or a hyphen (KBJ-01, KEC-KBJ); a plain word is no post."""


def parse_filter(word: str) -> Filter | None:
    """'/laporan [status|severity|post code]'; None when the word means nothing."""
    wanted = word.strip()
    statuses = status_filter(wanted)
    if statuses is not None:
        if len(statuses) == 1:
            token = statuses[0]
        else:
            token = "open" if statuses == OPEN_STATUSES else "all"
        return Filter(token, statuses)
    if wanted.lower() in SEVERITIES:
        return Filter(wanted.lower(), OPEN_STATUSES, severity=wanted.lower())
    if _POST_CODE.fullmatch(wanted):
        return Filter(wanted.upper(), OPEN_STATUSES, post_code=wanted.upper())
    return None


def status_filter(word: str) -> tuple[str, ...] | None:
    """'/laporan <word>': the statuses it means, or None when it means nothing."""
    wanted = word.strip().lower()
    if wanted in ("", "terbuka", "open"):
        return OPEN_STATUSES
    if wanted in ("semua", "all"):
        return ISSUE_STATUSES
    aliases = {
        "new": "baru",
        "accepted": "diterima",
        "progress": "ditangani",
        "in_progress": "ditangani",
        "resolved": "selesai",
        "done": "selesai",
        "rejected": "ditolak",
    }
    status = aliases.get(wanted, wanted)
    return (status,) if status in ISSUE_STATUSES else None
