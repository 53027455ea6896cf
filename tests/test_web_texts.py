"""The command room page's texts (web/src/texts): Indonesian and English with the same
keys and placeholders, and every key the page's code asks for present."""

from __future__ import annotations

import json
import re
from pathlib import Path

WEB = Path(__file__).resolve().parent.parent / "web" / "src"
PLACEHOLDER = re.compile(r"\{(\w+)\}")
ASKED = re.compile(r"""\bt\(\s*"([a-z_]+\.[a-z_.]+)"(?!\s*\+)""")


def catalog(language: str) -> dict[str, str]:
    data = json.loads((WEB / "texts" / f"{language}.json").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    indonesian, english = catalog("id"), catalog("en")
    assert set(indonesian) == set(english)
    for key, text in indonesian.items():
        assert text.strip() and english[key].strip(), key
        assert set(PLACEHOLDER.findall(text)) == set(PLACEHOLDER.findall(english[key])), key


def test_every_key_the_page_asks_for_exists() -> None:
    known = set(catalog("id"))
    asked: set[str] = set()
    for source in WEB.rglob("*.js"):
        asked |= set(ASKED.findall(source.read_text(encoding="utf-8")))
    assert len(asked) > 50  # the pattern still finds the page's texts
    assert asked - known == set()
    # keys built from a prefix at run time
    for prefix, values in {
        "tab.": ["posts", "alerts", "queue", "roster", "recap", "circulars"],
        "gate.refused_": ["bad_hash", "stale", "malformed", "not_a_member", "other"],
        "state.": ["staffed", "reminded", "silent", "unstaffed", "opening", "closed", "paused"],
        "status.": ["baru", "diterima", "ditangani", "selesai", "ditolak"],
        "action.": ["accept", "start", "resolve", "reject", "reopen", "forward"],
    }.items():
        assert {prefix + value for value in values} <= known, prefix
