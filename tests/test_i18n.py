"""Catalogs: every key in both languages, with the same placeholders."""

from __future__ import annotations

import string
from datetime import timedelta

from bot.core.i18n import catalog, duration_text, label, t


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_both_languages_have_the_same_keys_and_placeholders() -> None:
    indonesian, english = catalog("id"), catalog("en")
    assert set(indonesian) == set(english)
    for key, text in indonesian.items():
        assert placeholders(text) == placeholders(english[key]), key


def test_every_message_fits_a_phone_screen() -> None:
    for language in ("id", "en"):
        for key, text in catalog(language).items():
            assert len(text) <= 600, key
            assert text.count("\n") <= 12, key


def test_lookup_and_fallbacks() -> None:
    assert t("en", "report.cancelled") == "Report cancelled."
    assert t("xx", "report.cancelled") == "Laporan dibatalkan."
    assert label("id", "category", "netralitas_asn") == "Netralitas ASN"
    assert label("id", "category", "banjir_rob") == "banjir rob"
    assert duration_text("id", timedelta(minutes=125)) == "2 jam 5 menit"
    assert duration_text("en", timedelta(minutes=45)) == "45 min"
