"""Evidence that travels (issue 10), end to end: a report's photos and location reach every
recipient of its card as one album and one map pin, re-sent by file_id.

The bot is the real Application polling the fake Bot API over HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.clock import FakeClock
from bot.rehearsal.emulator import FakeBotApi, FakeUser, Sent
from storage import areas
from storage.db import Database
from tests.conftest import BUDI, CAMAT, LURAH, MONAS, T0, AppFactory, Phone

Phones = Callable[[FakeUser], Phone]
GROUP = -100_888
PHOTOS = ("ev-photo-1", "ev-photo-2")


async def bind_group(db_path: Path, code: str, chat_id: int = GROUP) -> None:
    db = await Database.open(db_path)
    async with db.transaction() as tx:
        area = await areas.by_code(tx, code)
        assert area is not None
        await areas.set_group_chat(tx, area.id, chat_id, None, T0)
    await db.close()


async def file_report(
    emu: FakeBotApi,
    officer: Phone,
    *,
    photos: tuple[str, ...] = PHOTOS,
    location: tuple[float, float] | None = MONAS,
    severity: str = "tinggi",
    text: str = "Kotak suara TPS 12 dibuka sebelum waktunya",
) -> str:
    """File a report through the conversation; returns its reference."""
    ask = await officer.send("/lapor")
    assert "pilih kategori" in (ask.text or "")
    sev = await officer.press_and_reply(ask, "rp:cat:logistik")
    attach = await officer.press_and_reply(sev, f"rp:sev:{severity}")
    last = await officer.send(text)
    for file_id in photos:
        last = await officer.photo(file_id=file_id)
    if location is not None:
        last = await officer.location(*location)
    summary = await officer.press_and_reply(last, "rp:next")
    filed = await officer.press_and_reply(summary, "rp:send")
    words = [w for w in (filed.text or "").split() if "/" in w and w[0].isalpha()]
    assert words, filed.text
    del attach
    return words[0]


async def ticking(
    emu: FakeBotApi, clock: FakeClock, predicate: Callable[[Sent], bool], after: int = 0
) -> Sent:
    """Wait for a record, moving the fake clock on a second at a time: the outbox sends one
    message per chat per second, and with a fake clock that second must be made to pass."""
    for _ in range(12):
        try:
            return await emu.wait_for(predicate, timeout=0.5, after=after)
        except TimeoutError:
            clock.advance(timedelta(seconds=1.1))
    return await emu.wait_for(predicate, timeout=2, after=after)


async def evidence_for(
    emu: FakeBotApi, clock: FakeClock, chat_id: int, ref: str
) -> tuple[Sent, Sent, Sent]:
    """The card, the album and the pin a chat received for ``ref``, in that order."""
    card = await ticking(
        emu,
        clock,
        lambda s: s.method == "sendMessage" and s.chat_id == chat_id and ref in (s.text or ""),
    )
    album = await ticking(
        emu, clock, lambda s: s.method == "sendMediaGroup" and s.chat_id == chat_id, card.index
    )
    pin = await ticking(
        emu, clock, lambda s: s.method == "sendLocation" and s.chat_id == chat_id, album.index
    )
    return card, album, pin


def album_file_ids(album: Sent) -> list[str]:
    ids = []
    for message in album.result:
        ids.append(message["photo"][-1]["file_id"])
    return ids


async def test_new_report_brings_album_and_pin_to_supervisor_and_group(
    emu: FakeBotApi, start_bot: AppFactory, db_path: Path, phone: Phones, clock: FakeClock
) -> None:
    await bind_group(db_path, "31.73.01.1001")
    async with start_bot():
        ref = await file_report(emu, phone(BUDI))
        for chat in (LURAH.id, GROUP):
            card, album, pin = await evidence_for(emu, clock, chat, ref)
            assert emu.inline_buttons(card), "the card keeps its buttons"
            assert album_file_ids(album) == list(PHOTOS)
            assert [item["type"] for item in album.params["media"]] == ["photo", "photo"]
            assert ref in (album.text or "")
            assert pin.result["location"]["latitude"] == pytest.approx(MONAS[0], abs=1e-5)
            assert pin.result["location"]["longitude"] == pytest.approx(MONAS[1], abs=1e-5)
            # at most two calls beyond the card, never one per photo
            extra = [
                s
                for s in emu.sent_to(chat)
                if s.method in ("sendPhoto", "sendMediaGroup", "sendLocation", "sendVideo")
            ]
            assert len(extra) == 2
        # the camat is not on the first step of a 'tinggi' report: nothing for them yet
        assert not emu.sent_to(CAMAT.id, "sendMediaGroup")


async def test_one_photo_goes_as_a_photo_and_no_location_means_no_pin(
    emu: FakeBotApi, start_bot: AppFactory, phone: Phones, clock: FakeClock
) -> None:
    async with start_bot():
        ref = await file_report(emu, phone(BUDI), photos=("ev-single",), location=None)
        card = await ticking(
            emu,
            clock,
            lambda s: s.method == "sendMessage" and s.chat_id == LURAH.id and ref in (s.text or ""),
        )
        single = await ticking(
            emu, clock, lambda s: s.method == "sendPhoto" and s.chat_id == LURAH.id, card.index
        )
        clock.advance(timedelta(seconds=3))
        await asyncio.sleep(1.2)
        assert single.result["photo"][-1]["file_id"] == "ev-single"
        assert ref in (single.text or "")
        assert not emu.sent_to(LURAH.id, "sendLocation")
        assert not emu.sent_to(LURAH.id, "sendMediaGroup")


async def test_darurat_climb_brings_evidence_to_the_next_level(
    emu: FakeBotApi, start_bot: AppFactory, phone: Phones, clock: FakeClock
) -> None:
    async with start_bot():
        ref = await file_report(emu, phone(BUDI), severity="darurat")
        # a darurat report goes one level up at once: the camat gets the evidence too
        for chat in (LURAH.id, CAMAT.id):
            _, album, pin = await evidence_for(emu, clock, chat, ref)
            assert album_file_ids(album) == list(PHOTOS)
            assert pin.result["location"]["latitude"] == pytest.approx(MONAS[0], abs=1e-5)


# --- /laporan REF: one report whole -----------------------------------------------------------


async def test_laporan_ref_shows_card_timeline_and_evidence(
    emu: FakeBotApi, start_bot: AppFactory, phone: Phones, clock: FakeClock
) -> None:
    async with start_bot():
        ref = await file_report(emu, phone(BUDI))
        card, _, _ = await evidence_for(emu, clock, LURAH.id, ref)
        lurah = phone(LURAH)
        accept = next(data for _, data in lurah.buttons(card) if data.endswith(":accept"))
        await lurah.press(card, accept)
        mark = emu.mark()
        emu.send_text(LURAH, f"/laporan {ref}")
        whole = await emu.wait_reply(LURAH.id, after=mark, contains="Riwayat")
        text = whole.text or ""
        assert ref in text and "diterima" in text
        assert "Riwayat" in text
        assert "19:00 · Budi Santoso · laporan dibuat" in text
        assert "Lurah Kebon Jeruk · status menjadi Diterima" in text or (
            "Lurah Kebon Jeruk · status menjadi diterima" in text
        ), text
        album = await emu.wait_for(
            lambda s: s.method == "sendMediaGroup" and s.chat_id == LURAH.id, after=mark
        )
        assert album_file_ids(album) == list(PHOTOS)
        pin = await emu.wait_for(
            lambda s: s.method == "sendLocation" and s.chat_id == LURAH.id, after=album.index
        )
        assert pin.result["location"]["latitude"] == pytest.approx(MONAS[0], abs=1e-5)
        # the listing offers the same evidence one tap away
        mark = emu.mark()
        emu.send_text(LURAH, "/laporan")
        listed = await emu.wait_for(
            lambda s: (
                s.chat_id == LURAH.id
                and s.method == "sendMessage"
                and ref in (s.text or "")
                and bool(s.params.get("reply_markup"))
            ),
            after=mark,
        )
        tap = next(data for _, data in lurah.buttons(listed) if data.startswith("sv:e:"))
        mark = emu.mark()
        await lurah.press(listed, tap)
        again = await emu.wait_for(
            lambda s: s.method == "sendMediaGroup" and s.chat_id == LURAH.id, after=mark
        )
        assert album_file_ids(again) == list(PHOTOS)


async def test_laporan_ref_outside_scope_or_unknown_gives_nothing(
    emu: FakeBotApi, start_bot: AppFactory, phone: Phones, clock: FakeClock
) -> None:
    async with start_bot():
        ref = await file_report(emu, phone(BUDI))
        await evidence_for(emu, clock, LURAH.id, ref)
        # the officer gets the supervisors-only answer, no card and no photos
        mark = emu.mark()
        answer = await phone(BUDI).send(f"/laporan {ref}")
        assert ref not in (answer.text or "")
        unknown = await phone(LURAH).send("/laporan KBJ-01/9999")
        assert "KBJ-01/9999" in (unknown.text or "") and "Riwayat" not in (unknown.text or "")
        await asyncio.sleep(0.3)
        assert not [s for s in emu.sent[mark:] if s.method in ("sendMediaGroup", "sendLocation")]


async def test_a_video_travels_in_the_album_as_a_video(
    emu: FakeBotApi, start_bot: AppFactory, phone: Phones, clock: FakeClock
) -> None:
    async with start_bot():
        budi = phone(BUDI)
        ask = await budi.send("/lapor")
        sev = await budi.press_and_reply(ask, "rp:cat:logistik")
        await budi.press_and_reply(sev, "rp:sev:tinggi")
        await budi.send("Antrean pemilih meluber ke jalan")
        await budi.photo(file_id="ev-photo-v")
        mark = emu.mark()
        emu.send_video(BUDI, caption="Video antrean")
        attached = await emu.wait_reply(BUDI.id, after=mark)
        summary = await budi.press_and_reply(attached, "rp:next")
        filed = await budi.press_and_reply(summary, "rp:send")
        ref = next(w for w in (filed.text or "").split() if "/" in w and w[0].isalpha())
        _, album, _ = await evidence_for_no_pin(emu, clock, LURAH.id, ref)
        assert [item["type"] for item in album.params["media"]] == ["photo", "video"]
        assert album.result[0]["photo"][-1]["file_id"] == "ev-photo-v"
        assert "video" in album.result[1]


async def evidence_for_no_pin(
    emu: FakeBotApi, clock: FakeClock, chat_id: int, ref: str
) -> tuple[Sent, Sent, None]:
    card = await ticking(
        emu,
        clock,
        lambda s: s.method == "sendMessage" and s.chat_id == chat_id and ref in (s.text or ""),
    )
    album = await ticking(
        emu, clock, lambda s: s.method == "sendMediaGroup" and s.chat_id == chat_id, card.index
    )
    return card, album, None
