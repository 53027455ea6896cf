"""The partner agencies of the sample city, and their liaisons (issue 10, SPEC §8).

* ``bawaslu`` has a liaison at the kecamatan Kebon Jeruk (covers KBJ-01 and KBJ-02), one
  at the kota (Jakarta Barat) and one at the other kecamatan, Kembangan;
* ``polri`` has a liaison at the kecamatan Kebon Jeruk;
* ``kpu`` is imported but has no liaison anywhere.
"""

from __future__ import annotations

from pathlib import Path

from bot.rehearsal.emulator import FakeUser
from storage import agencies, areas, members
from storage.areas import AreaRow
from storage.db import Database
from storage.members import MemberRow
from tests.conftest import T0

LIAISON_IN = FakeUser(5001, "Rina Bawaslu")
LIAISON_KOTA = FakeUser(5002, "Dedi Bawaslu Kota")
LIAISON_OUT = FakeUser(5003, "Yanti Bawaslu Kembangan")
LIAISON_OTHER = FakeUser(5004, "Agus Polri")
CAMAT_OTHER = FakeUser(2010, "Camat Kembangan")

AGENCIES = [
    ("bawaslu", "Bawaslu Jakarta Barat"),
    ("polri", "Polres Metro Jakarta Barat"),
    ("kpu", "KPU Jakarta Barat"),
]


def liaison(ref: str, name: str, area: str, user: FakeUser | None, agency: str) -> MemberRow:
    return MemberRow(
        ref, name, None, "+6281300000000", ("liaison",), (), (area,),
        user.id if user else None, None, agency,
    )  # fmt: skip


LIAISONS = [
    liaison("bws-kbj", "Rina Bawaslu", "31.73.01", LIAISON_IN, "bawaslu"),
    liaison("bws-kota", "Dedi Bawaslu Kota", "31.73", LIAISON_KOTA, "bawaslu"),
    liaison("bws-kbg", "Yanti Bawaslu Kembangan", "31.73.02", LIAISON_OUT, "bawaslu"),
    liaison("pol-kbj", "Agus Polri", "31.73.01", LIAISON_OTHER, "polri"),
    liaison("bws-new", "Nina Bawaslu Baru", "31.73.01", None, "bawaslu"),
]


async def seed_agencies(db_path: Path) -> None:
    db = await Database.open(db_path)
    try:
        async with db.transaction() as tx:
            await areas.upsert(tx, [AreaRow("31.73.02", "Kembangan", "kecamatan", "31.73")], T0)
            await agencies.upsert(tx, AGENCIES, T0)
            camat2 = MemberRow(
                "camat2", "Camat Kembangan", None, None, ("supervisor",), (), ("31.73.02",),
                CAMAT_OTHER.id, None,
            )  # fmt: skip
            await members.upsert(tx, [*LIAISONS, camat2], T0)
    finally:
        await db.close()
