"""The recap's section per partner agency (issue 10, SPEC §8): forwarded, accepted, done,
returned, median time to accept and to finish; scoped like the rest of the recap; on a
phone screen. Real SQLite, the hand-made day of tests/test_recap.py."""

from __future__ import annotations

from datetime import timedelta

from bot.insight.recap import render_text
from storage import agencies, forwards
from storage.db import Database
from tests.test_recap import _id, _issue, _recap_of, at, db

__all__ = ["db"]


async def _forwarded_day(database: Database) -> None:
    async with database.transaction() as tx:
        await agencies.upsert(tx, [("bawaslu", "Bawaslu"), ("polri", "Polri")], at(0))
        bawaslu = await _id(tx, "agencies", "code", "bawaslu")
        polri = await _id(tx, "agencies", "code", "polri")
        budi = await _id(tx, "members", "ref", "budi")
        lurah = await _id(tx, "members", "ref", "lurah")
        one = await _id(tx, "posts", "code", "TST-01")
        three = await _id(tx, "posts", "code", "TST-03")
        kel = await _id(tx, "areas", "code", "31.73.01")
        a = await _issue(tx, one, "TST-01", budi, "politik_uang", at(9))
        b = await _issue(tx, one, "TST-01", budi, "politik_uang", at(10))
        c = await _issue(tx, three, "TST-03", budi, "keamanan", at(11))
        # Bawaslu: accepted after 10 min and done after 2 h; accepted after 30 min and
        # still open; Polri (other kelurahan): returned without being accepted
        first = await forwards.create(tx, a, bawaslu, lurah, None, kel, None, at(9, 10))
        second = await forwards.create(tx, b, bawaslu, lurah, None, kel, None, at(10, 10))
        third = await forwards.create(tx, c, polri, lurah, None, kel, None, at(11, 10))
        assert first and second and third
        assert await forwards.accept(tx, first, lurah, at(9, 20))
        assert await forwards.close(tx, first, ("diterima",), "selesai", lurah, "ok", at(11, 10))
        assert await forwards.accept(tx, second, lurah, at(10, 40))
        assert await forwards.close(
            tx, third, ("dikirim",), "dikembalikan", lurah, "bukan ranah", at(11, 30)
        )


async def test_recap_counts_forwards_per_agency_with_median_times(db: Database) -> None:
    await _forwarded_day(db)
    recap, _ = await _recap_of(db, at(9, day=25))
    by_agency = {stat.agency: stat for stat in recap.agencies}
    bawaslu, polri = by_agency["Bawaslu"], by_agency["Polri"]
    assert (bawaslu.forwarded, bawaslu.accepted, bawaslu.done, bawaslu.returned) == (2, 2, 1, 0)
    assert bawaslu.median_accept == timedelta(minutes=20)  # 10 and 30 minutes
    assert bawaslu.median_finish == timedelta(hours=2)
    assert (polri.forwarded, polri.accepted, polri.done, polri.returned) == (1, 0, 0, 1)
    assert polri.median_accept is None and polri.median_finish is None
    text = render_text("id", recap)
    assert "🤝 Disposisi ke instansi:" in text
    assert "• Bawaslu: 2 diteruskan · 1 selesai · 0 kembali" in text
    assert "2 diterima (median 20 menit) · selesai 2 jam" in text
    assert "• Polri: 1 diteruskan · 0 selesai · 1 kembali" in text
    english = render_text("en", recap)
    assert "2 accepted (median 20 min) · done after 2 h" in english
    for language in ("id", "en"):
        lines = render_text(language, recap).splitlines()
        assert len(lines) <= 30 and max(len(line) for line in lines) <= 70


async def test_agency_section_follows_the_scope_and_is_absent_without_forwards(
    db: Database,
) -> None:
    recap, _ = await _recap_of(db, at(9, day=25))
    assert recap.agencies == [] and "Disposisi" not in render_text("id", recap)
    await _forwarded_day(db)
    async with db.read() as tx:
        kelurahan = await _id(tx, "areas", "code", "31.73.01.1001")
        area_ids = {kelurahan}
    scoped, _ = await _recap_of(db, at(9, day=25), area_ids)
    assert [stat.agency for stat in scoped.agencies] == ["Bawaslu"]  # Polri's was in 1002
