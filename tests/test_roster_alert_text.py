"""The unstaffed alert of a rostered post tells the absent from those who came and left."""

from __future__ import annotations

from datetime import timedelta

from bot.watch.texts import alert_text
from storage.alerts import Person
from storage.records import Post
from tests.conftest import T0

POST = Post(1, "KBJ-01", "Posko Kel. Kebon Jeruk", 1, None, None, None, 1, "24h")


def test_absent_and_left_early_are_told_apart_with_phones_only_in_private() -> None:
    people = [
        Person(1, "Sari Dewi", "0812-1", on_duty=False, rostered=True),
        Person(
            2,
            "Budi Santoso",
            "0812-2",
            on_duty=False,
            rostered=True,
            left_at=T0 - timedelta(minutes=30),
        ),
        Person(3, "John Doe", None, on_duty=True, rostered=True),
    ]
    private = alert_text("id", POST, "unstaffed", T0, T0, people, private=True, lead="")
    assert "hadir 1 dari 3" in private
    assert "❗ Piket belum hadir: Sari Dewi 0812-1" in private
    assert "↩️ Sudah pulang lebih awal: Budi Santoso 0812-2 (pukul 18:30)" in private
    assert "Budi Santoso 0812-2" not in private.split("❗")[1].split("\n")[0]
    group = alert_text("id", POST, "unstaffed", T0, T0, people, private=False, lead="")
    assert "0812" not in group and "Budi Santoso (pukul 18:30)" in group
