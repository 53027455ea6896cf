"""The emulator's sendMediaGroup (issue 10): albums are checked the way Telegram checks them,
and PTB's send_media_group and the outbox sender both get through it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from telegram import Bot, InputMediaPhoto, InputMediaVideo

from bot.rehearsal.emulator import FakeBotApi, FakeUser

ANI = FakeUser(1001, "Ani")


@pytest.fixture
async def emu() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as api:
        yield api


async def post(emu: FakeBotApi, method: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"{emu.base_url}{emu.token}/{method}", json=body) as resp,
    ):
        return resp.status, await resp.json()


def known_photo(emu: FakeBotApi, file_id: str) -> str:
    emu.send_photo(ANI, file_id=file_id)
    return file_id


async def test_album_of_known_photos_and_a_video(emu: FakeBotApi) -> None:
    first, second = known_photo(emu, "p-1"), known_photo(emu, "p-2")
    video = emu._files.new_video(b"mp4")["file_id"]
    async with Bot(emu.token, base_url=emu.base_url) as bot:
        sent = await bot.send_media_group(
            ANI.id,
            [
                InputMediaPhoto(first, caption="Bukti"),
                InputMediaPhoto(second),
                InputMediaVideo(video),
            ],
        )
    assert len(sent) == 3
    assert sent[0].caption == "Bukti" and sent[0].photo[-1].file_id == first
    assert sent[1].photo[-1].file_id == second
    assert sent[2].video is not None and sent[2].video.file_id == video
    assert len({m.media_group_id for m in sent}) == 1 and sent[0].media_group_id
    record = emu.sent_to(ANI.id, "sendMediaGroup")
    assert len(record) == 1 and record[0].text == "Bukti"


@pytest.mark.parametrize(
    ("media", "error"),
    [
        ([{"type": "photo", "media": "p-1"}], "wrong number of media"),
        ([{"type": "photo", "media": "p-1"}] * 11, "wrong number of media"),
        ("not a list", "can't parse media"),
        ([{"type": "sticker", "media": "p-1"}, {"type": "photo", "media": "p-1"}], "unsupported"),
        ([{"type": "photo", "media": "p-1"}, {"type": "photo", "media": "nope"}], "wrong file"),
        ([{"type": "photo", "media": "p-1"}, {"type": "video", "media": "p-1"}], "as Video"),
        ([{"type": "photo", "media": "p-1"}, {"type": "document", "media": "d"}], "mixed"),
    ],
)
async def test_bad_albums_are_refused_like_telegram(
    emu: FakeBotApi, media: Any, error: str
) -> None:
    known_photo(emu, "p-1")
    doc = emu._files.new_document(b"%PDF", "a.pdf", "application/pdf")["file_id"]
    if isinstance(media, list):
        media = [{**m, "media": doc} if m["media"] == "d" else m for m in media]
    status, body = await post(emu, "sendMediaGroup", {"chat_id": ANI.id, "media": media})
    assert status == 400 and not body["ok"]
    assert error in body["description"]
    assert not emu.sent_to(ANI.id, "sendMediaGroup")
