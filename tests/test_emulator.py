"""Tests for the fake Telegram Bot API, driven over real HTTP by aiohttp and by PTB itself."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from telegram import (
    Bot,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    KeyboardButton,
    ReplyKeyboardMarkup,
    Update,
)
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Conflict,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from telegram.ext import Application, CallbackQueryHandler, CommandHandler, ContextTypes

from bot.rehearsal.emulator import FakeBotApi, FakeUser, Sent, render_text

ANI = FakeUser(1001, "Ani", "Lestari", username="ani_l")
BUDI = FakeUser(1002, "Budi")
GROUP_ID = -1_001_234_567_890


@pytest.fixture
async def emu() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as api:
        yield api


@pytest.fixture
async def bot(emu: FakeBotApi) -> AsyncIterator[Bot]:
    async with Bot(emu.token, base_url=emu.base_url, base_file_url=emu.base_file_url) as b:
        yield b


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as session:
        yield session


async def call(
    http: aiohttp.ClientSession,
    emu: FakeBotApi,
    method: str,
    *,
    data: dict[str, Any] | None = None,
    json_body: dict[str, Any] | None = None,
    token: str | None = None,
) -> tuple[int, dict[str, Any]]:
    url = f"{emu.base_url}{token or emu.token}/{method}"
    async with http.post(url, data=data, json=json_body) as resp:
        body: dict[str, Any] = await resp.json()
        return resp.status, body


def keyboard(*pairs: tuple[str, str]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup([[InlineKeyboardButton(t, callback_data=d)] for t, d in pairs])


# ------------------------------------------------------------------ plain HTTP


async def test_get_me_over_plain_http(emu: FakeBotApi, http: aiohttp.ClientSession) -> None:
    status, body = await call(http, emu, "getMe")
    assert status == 200
    assert body["ok"] is True
    assert body["result"]["is_bot"] is True
    assert body["result"]["username"] == "posko_test_bot"
    assert body["result"]["id"] == 123456


async def test_error_shapes_for_token_and_method(
    emu: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    status, body = await call(http, emu, "getMe", token="654321:WRONG")
    assert (status, body) == (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    status, body = await call(http, emu, "sendTelepathy")
    assert (status, body) == (404, {"ok": False, "error_code": 404, "description": "Not Found"})
    # Telegram method names are case-insensitive.
    status, _ = await call(http, emu, "getme")
    assert status == 200


async def test_form_values_are_json_decoded_and_read_back(
    emu: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    markup = {"inline_keyboard": [[{"text": "Hadir", "callback_data": "att:1"}]]}
    status, body = await call(
        http,
        emu,
        "sendMessage",
        data={"chat_id": str(ANI.id), "text": "Absen?", "reply_markup": json.dumps(markup)},
    )
    assert status == 200
    assert body["result"]["reply_markup"] == markup
    reply = await emu.wait_reply(ANI.id, contains="Absen")
    assert reply.params["reply_markup"] == markup
    assert reply.chat_id == ANI.id
    assert emu.inline_buttons(reply) == [("Hadir", "att:1")]
    assert emu.sent_to(ANI.id, "sendMessage") == [reply]


async def test_json_body_is_accepted(emu: FakeBotApi, http: aiohttp.ClientSession) -> None:
    status, body = await call(
        http, emu, "sendMessage", json_body={"chat_id": GROUP_ID, "text": "halo"}
    )
    assert status == 200
    assert body["result"]["chat"]["type"] == "supergroup"
    assert emu.sent[-1].chat_id == GROUP_ID


async def test_get_updates_returns_update_and_offset_acknowledges(
    emu: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    upd = emu.send_text(ANI, "halo")
    _, body = await call(http, emu, "getUpdates", data={"timeout": "0"})
    assert [u["update_id"] for u in body["result"]] == [upd["update_id"]]
    # Not confirmed yet: the same update comes again.
    _, body = await call(http, emu, "getUpdates", data={"timeout": "0"})
    assert len(body["result"]) == 1
    assert emu.acknowledged_update_id < upd["update_id"]

    offset = str(upd["update_id"] + 1)
    _, body = await call(http, emu, "getUpdates", data={"offset": offset, "timeout": "0"})
    assert body["result"] == []
    assert emu.acknowledged_update_id == upd["update_id"]
    await emu.wait_acknowledged(upd, timeout=0.1)


async def test_limit_and_negative_offset(emu: FakeBotApi, http: aiohttp.ClientSession) -> None:
    ids = [emu.send_text(ANI, f"m{i}")["update_id"] for i in range(5)]
    _, body = await call(http, emu, "getUpdates", data={"limit": "2"})
    assert [u["update_id"] for u in body["result"]] == ids[:2]
    _, body = await call(http, emu, "getUpdates", data={"offset": "-1"})
    assert [u["update_id"] for u in body["result"]] == ids[-1:]
    assert emu.acknowledged_update_id == ids[-2]


async def test_long_poll_waits_and_wakes_on_injection(
    emu: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    poll = asyncio.create_task(call(http, emu, "getUpdates", data={"timeout": "5"}))
    await asyncio.sleep(0.05)
    assert not poll.done()
    started = time.monotonic()
    upd = emu.send_location(ANI, -6.2, 106.8)
    _, body = await asyncio.wait_for(poll, 1)
    assert time.monotonic() - started < 0.5
    assert body["result"] == [upd]


async def test_long_poll_times_out_empty(emu: FakeBotApi, http: aiohttp.ClientSession) -> None:
    started = time.monotonic()
    _, body = await call(http, emu, "getUpdates", data={"timeout": "0.15"})
    assert body == {"ok": True, "result": []}
    assert 0.1 < time.monotonic() - started < 1


async def test_second_long_poll_terminates_first(
    emu: FakeBotApi, http: aiohttp.ClientSession
) -> None:
    first = asyncio.create_task(call(http, emu, "getUpdates", data={"timeout": "5"}))
    await asyncio.sleep(0.05)
    second = await call(http, emu, "getUpdates", data={"timeout": "0"})
    status, body = await asyncio.wait_for(first, 1)
    assert status == 409
    assert body["description"].startswith("Conflict: terminated by other getUpdates")
    assert second[0] == 200


async def test_outage_answers_502_even_to_get_updates(
    emu: FakeBotApi, http: aiohttp.ClientSession, bot: Bot
) -> None:
    emu.set_down(True)
    status, body = await call(http, emu, "getUpdates")
    assert (status, body["description"]) == (502, "Bad Gateway")
    with pytest.raises(NetworkError):
        await bot.send_message(ANI.id, "x")
    emu.set_down(False)
    emu.outage(0.1)
    assert emu.is_down
    await asyncio.sleep(0.12)
    assert (await call(http, emu, "getMe"))[0] == 200


async def test_drop_next_closes_connection(
    emu: FakeBotApi, http: aiohttp.ClientSession, bot: Bot
) -> None:
    emu.drop_next("sendMessage")
    with pytest.raises(aiohttp.ClientError):
        await call(http, emu, "sendMessage", data={"chat_id": "1", "text": "a"})
    assert emu.sent == []

    emu.drop_next(None, after_processing=True)
    with pytest.raises(NetworkError):
        await bot.send_message(ANI.id, "lost answer")
    # The server acted on it; only the answer was lost.
    assert [s.text for s in emu.sent] == ["lost answer"]
    assert emu.n_requests["sendMessage"] == 2


async def test_delay_next_makes_client_time_out(emu: FakeBotApi, bot: Bot) -> None:
    emu.delay_next("sendMessage", 0.3)
    with pytest.raises(TimedOut):
        await bot.send_message(ANI.id, "lambat", read_timeout=0.05)
    # Like Telegram, the request still takes effect after the client gave up.
    rec = await emu.wait_reply(ANI.id, timeout=1, after=0)
    assert rec.text == "lambat"


# ------------------------------------------------------------------ PTB Bot


async def test_ptb_get_me(bot: Bot) -> None:
    me = await bot.get_me()
    assert me.is_bot
    assert me.username == "posko_test_bot"
    assert me.can_join_groups is True


async def test_ptb_send_message_with_inline_keyboard(emu: FakeBotApi, bot: Bot) -> None:
    emu.send_text(ANI, "/start")
    msg = await bot.send_message(
        ANI.id,
        "<b>Pos 12</b> sudah buka?",
        parse_mode="HTML",
        reply_markup=keyboard(("Ya", "open:12"), ("Belum", "closed:12")),
    )
    assert msg.text == "Pos 12 sudah buka?"
    assert msg.entities[0].type == "bold"
    assert msg.from_user is not None and msg.from_user.is_bot
    reply = await emu.wait_reply(ANI.id, contains="Pos 12 sudah")
    assert reply.message_id == msg.message_id == 2
    assert reply.params["text"] == "<b>Pos 12</b> sudah buka?"
    assert emu.inline_buttons(reply) == [("Ya", "open:12"), ("Belum", "closed:12")]


async def test_reply_keyboard_is_recorded_not_echoed(emu: FakeBotApi, bot: Bot) -> None:
    markup = ReplyKeyboardMarkup([[KeyboardButton("Kirim lokasi", request_location=True)]])
    msg = await bot.send_message(ANI.id, "Bagikan lokasi", reply_markup=markup)
    assert msg.reply_markup is None
    assert emu.reply_keyboard(emu.sent[-1]) == [["Kirim lokasi"]]


async def test_ptb_get_updates_parses_command(emu: FakeBotApi, bot: Bot) -> None:
    emu.send_text(ANI, "/lapor@posko_test_bot 12", chat_id=GROUP_ID, chat_type="supergroup")
    (update,) = await bot.get_updates(timeout=1)
    assert update.message is not None
    assert update.message.chat.type == "supergroup"
    assert update.message.parse_entity(update.message.entities[0]) == "/lapor@posko_test_bot"


async def test_user_edit_forward_and_reply_parse(emu: FakeBotApi, bot: Bot) -> None:
    original = emu.send_text(ANI, "Pos 12 buka")
    emu.edit_text(ANI, original, "Pos 12 tutup")
    emu.send_text(ANI, "dari Budi", forward_from=BUDI, reply_to=original)
    first, edited, forwarded = await bot.get_updates(timeout=1)
    assert edited.edited_message is not None
    assert edited.edited_message.text == "Pos 12 tutup"
    assert edited.edited_message.message_id == original["message"]["message_id"]
    message = forwarded.message
    assert message is not None and message.forward_origin is not None
    assert message.reply_to_message is not None
    assert message.reply_to_message.text == "Pos 12 tutup"
    assert first.message is not None and first.message.from_user is not None
    assert first.message.from_user.language_code == "id"


async def test_press_button_gives_callback_query(emu: FakeBotApi, bot: Bot) -> None:
    await bot.send_message(ANI.id, "Pilih", reply_markup=keyboard(("A", "pick:a")))
    rec = await emu.wait_reply(ANI.id, after=0)
    upd = emu.press_button(ANI, rec, "pick:a")
    (update,) = await bot.get_updates(timeout=1)
    assert update.update_id == upd["update_id"]
    query = update.callback_query
    assert query is not None and query.message is not None
    assert query.data == "pick:a"
    assert query.from_user.id == ANI.id
    assert query.message.chat.id == ANI.id
    assert query.message.message_id == rec.message_id
    assert await query.answer("ok")
    with pytest.raises(BadRequest, match=r"(?i)query ID is invalid"):
        await query.answer("again")
    with pytest.raises(ValueError, match="no button"):
        emu.press_button(ANI, rec, "pick:zzz")


async def test_edit_text_removes_keyboard_and_rejects_no_op(emu: FakeBotApi, bot: Bot) -> None:
    msg = await bot.send_message(ANI.id, "v1", reply_markup=keyboard(("A", "a")))
    edited = await bot.edit_message_text("v2", chat_id=ANI.id, message_id=msg.message_id)
    assert not isinstance(edited, bool)
    assert edited.text == "v2" and edited.edit_date is not None
    current = emu.message(ANI.id, msg.message_id)
    assert current is not None and "reply_markup" not in current
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_text("v2", chat_id=ANI.id, message_id=msg.message_id)
    with pytest.raises(BadRequest, match=r"(?i)message to edit not found"):
        await bot.edit_message_text("x", chat_id=ANI.id, message_id=999)
    assert await bot.delete_message(ANI.id, msg.message_id)
    assert emu.message(ANI.id, msg.message_id) is None


async def test_live_location_edit_parses(emu: FakeBotApi, bot: Bot) -> None:
    start = emu.send_location(ANI, -6.2, 106.8, live_period=900, horizontal_accuracy=20)
    moved = emu.edit_location(ANI, start, -6.21, 106.81, horizontal_accuracy=8)
    first, second = await bot.get_updates(timeout=1)
    assert first.message is not None and first.message.location is not None
    assert start["message"]["location"]["live_period"] == 900
    edited = second.edited_message
    assert second.update_id == moved["update_id"]
    assert edited is not None and edited.location is not None and edited.edit_date is not None
    assert edited.message_id == first.message.message_id
    assert (edited.location.latitude, edited.location.longitude) == (-6.21, 106.81)
    assert edited.location.horizontal_accuracy == 8


async def test_user_photo_and_document_download(emu: FakeBotApi, bot: Bot) -> None:
    emu.send_photo(ANI, caption="papan suara", media_group_id="album-1")
    emu.send_document(BUDI, "c1.csv", b"pos,suara\n12,340\n", "text/csv")
    photo_update, doc_update = await bot.get_updates(timeout=1)
    assert photo_update.message is not None and doc_update.message is not None
    sizes = photo_update.message.photo
    assert len(sizes) > 1
    assert len({s.file_unique_id for s in sizes}) == len(sizes)
    assert photo_update.message.caption == "papan suara"
    assert photo_update.message.media_group_id == "album-1"
    document = doc_update.message.document
    assert document is not None and document.file_name == "c1.csv"
    tg_file = await document.get_file()
    assert bytes(await tg_file.download_as_bytearray()) == b"pos,suara\n12,340\n"


async def test_photo_upload_is_recorded_with_bytes(emu: FakeBotApi, bot: Bot) -> None:
    data = b"\x89PNG\r\n\x1a\nfake"
    msg = await bot.send_photo(ANI.id, photo=data, caption="Rekap")
    assert msg.photo and msg.caption == "Rekap"
    rec = await emu.wait_reply(ANI.id, after=0)
    assert rec.method == "sendPhoto"
    assert rec.files == {"photo": data}
    # Re-sending by file_id works like Telegram and needs no upload.
    again = await bot.send_photo(GROUP_ID, photo=msg.photo[-1].file_id)
    assert again.photo[-1].file_id == msg.photo[-1].file_id
    with pytest.raises(BadRequest, match=r"(?i)wrong file identifier"):
        await bot.send_photo(ANI.id, photo="nonexistent-file-id")


async def test_fault_429_raises_retry_after(emu: FakeBotApi, bot: Bot) -> None:
    emu.fail_next("sendMessage", 429, retry_after=3)
    with pytest.raises(RetryAfter, match="Retry in 3"):
        await bot.send_message(ANI.id, "a")
    assert emu.n_429 == 1
    assert emu.rejected[-1].error_code == 429
    await bot.send_message(ANI.id, "b")
    assert [s.text for s in emu.sent] == ["b"]


async def test_fault_500_raises_network_error(emu: FakeBotApi, bot: Bot) -> None:
    emu.fail_next(None, 500, count=2)
    for _ in range(2):
        with pytest.raises(NetworkError, match="Internal Server Error"):
            await bot.send_chat_action(ANI.id, "typing")
    assert await bot.get_me()  # untargeted faults spare non-sending methods
    assert await bot.send_chat_action(ANI.id, "typing")


async def test_blocked_unknown_and_migrated_chats(emu: FakeBotApi, bot: Bot) -> None:
    emu.block_chat(ANI.id)
    with pytest.raises(Forbidden, match=r"(?i)bot was blocked by the user"):
        await bot.send_message(ANI.id, "halo")
    emu.unknown_chat(555)
    with pytest.raises(BadRequest, match=r"(?i)chat not found"):
        await bot.send_message(555, "halo")
    emu.migrate_chat(-4001, GROUP_ID)
    with pytest.raises(ChatMigrated) as info:
        await bot.send_message(-4001, "halo")
    assert info.value.new_chat_id == GROUP_ID
    assert emu.sent == []


async def test_wrong_token_raises_invalid_token(emu: FakeBotApi) -> None:
    with pytest.raises(InvalidToken):
        async with Bot("654321:WRONG", base_url=emu.base_url):
            pass


async def test_rate_limits_answer_429(emu: FakeBotApi, bot: Bot) -> None:
    emu.enforce_rate_limits(per_chat_per_s=1, retry_after=2)
    await bot.send_message(ANI.id, "1")
    with pytest.raises(RetryAfter):
        await bot.send_message(ANI.id, "2")
    await bot.send_message(BUDI.id, "other chat is fine")

    emu.enforce_rate_limits(global_per_s=3, per_chat_per_s=100)
    for chat in (1, 2, 3):
        await bot.send_message(chat, "x")
    with pytest.raises(RetryAfter):
        await bot.send_message(4, "x")

    emu.enforce_rate_limits(per_chat_per_s=100, per_group_per_min=2)
    await bot.send_message(GROUP_ID, "g1")
    await bot.send_message(GROUP_ID, "g2")
    with pytest.raises(RetryAfter):
        await bot.send_message(GROUP_ID, "g3")
    assert emu.n_429 == 3
    assert emu.n_requests["sendMessage"] == 10


async def test_text_validation(emu: FakeBotApi, bot: Bot) -> None:
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(ANI.id, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)message text is empty"):
        await bot.send_message(ANI.id, "   ")
    with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
        await bot.send_message(ANI.id, "<b>bold</i>", parse_mode="HTML")
    with pytest.raises(BadRequest, match=r"(?i)Character '\.' is reserved"):
        await bot.send_message(ANI.id, "Pos 12. OK", parse_mode="MarkdownV2")
    with pytest.raises(BadRequest, match=r"(?i)BUTTON_DATA_INVALID"):
        await bot.send_message(ANI.id, "x", reply_markup=keyboard(("A", "d" * 65)))
    ok = await bot.send_message(ANI.id, "x" * 4096)
    assert ok.text is not None and len(ok.text) == 4096
    assert len(emu.rejected) == 5


def test_render_text() -> None:
    assert render_text("  <i>a</i> &lt;b&gt;  ", "HTML") == (
        "a <b>",
        [{"type": "italic", "offset": 0, "length": 1}],
    )
    text, entities = render_text(r"*Pos* \#12 [peta](https://x\.y)", "MarkdownV2")
    assert text == "Pos #12 peta"
    assert [e["type"] for e in entities] == ["bold", "text_link"]
    assert entities[1]["url"] == "https://x.y"
    with pytest.raises(ValueError, match="Can't find end of Bold entity"):
        render_text("*open", "MarkdownV2")


async def test_wait_for_timeout_lists_recent_records(emu: FakeBotApi, bot: Bot) -> None:
    await bot.send_message(ANI.id, "sesuatu")
    mark = emu.mark()
    with pytest.raises(TimeoutError, match="sesuatu"):
        await emu.wait_for(lambda s: s.method == "sendPhoto", timeout=0.05)
    with pytest.raises(TimeoutError):
        await emu.wait_reply(ANI.id, timeout=0.05, after=mark)


async def test_commands_and_menu_button_are_recorded(emu: FakeBotApi, bot: Bot) -> None:
    assert await bot.set_my_commands([("lapor", "Kirim laporan"), ("pos", "Info pos")])
    assert [c.command for c in await bot.get_my_commands()] == ["lapor", "pos"]
    assert await bot.set_chat_menu_button()
    assert [s.method for s in emu.sent] == ["setMyCommands", "setChatMenuButton"]
    assert emu.sent[0].params["commands"][0] == {"command": "lapor", "description": "Kirim laporan"}
    with pytest.raises(BadRequest, match=r"(?i)BOT_COMMAND_INVALID"):
        await bot.set_my_commands([("Bad-Name", "x")])


async def test_send_raw_channel_post(emu: FakeBotApi, bot: Bot) -> None:
    raw = emu.send_raw(
        {
            "channel_post": {
                "message_id": 7,
                "date": int(time.time()),
                "chat": {"id": -1009, "type": "channel", "title": "Info"},
                "sticker": {
                    "file_id": "s1",
                    "file_unique_id": "u1",
                    "type": "regular",
                    "width": 512,
                    "height": 512,
                    "is_animated": False,
                    "is_video": False,
                },
            }
        }
    )
    (update,) = await bot.get_updates(timeout=1)
    assert update.update_id == raw["update_id"]
    assert update.channel_post is not None and update.channel_post.sticker is not None


async def test_webhook_state_and_delivery(emu: FakeBotApi, bot: Bot) -> None:
    received: asyncio.Queue[tuple[dict[str, Any], str | None]] = asyncio.Queue()

    async def hook(request: web.Request) -> web.Response:
        await received.put(
            (await request.json(), request.headers.get("X-Telegram-Bot-Api-Secret-Token"))
        )
        return web.Response()

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/hook"
        assert await bot.set_webhook(url, secret_token="rahasia")
        assert (emu.webhook_url, emu.webhook_secret) == (url, "rahasia")
        with pytest.raises(Conflict):
            await bot.get_updates()
        upd = emu.send_text(ANI, "via webhook")
        body, secret = await asyncio.wait_for(received.get(), 2)
        assert body == upd and secret == "rahasia"
        await emu.wait_acknowledged(upd["update_id"], timeout=1)
        info = await bot.get_webhook_info()
        assert info.url == url and info.pending_update_count == 0
        assert await bot.delete_webhook()
        assert emu.webhook_url == ""
    finally:
        await runner.cleanup()


async def test_application_polling_end_to_end(emu: FakeBotApi) -> None:
    async def start(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        assert update.effective_message is not None
        await update.effective_message.reply_text(
            "Pilih pos:", reply_markup=keyboard(("Pos 1", "pos:1"), ("Pos 2", "pos:2"))
        )

    async def chosen(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        query = update.callback_query
        assert query is not None
        await query.answer()
        await query.edit_message_text(f"Dipilih {query.data}")

    app = (
        Application.builder()
        .token(emu.token)
        .base_url(emu.base_url)
        .base_file_url(emu.base_file_url)
        .build()
    )
    app.add_handler(CommandHandler("start", start))
    app.add_handler(CallbackQueryHandler(chosen))
    async with app:
        assert app.updater is not None
        await app.updater.start_polling(poll_interval=0)
        await app.start()
        try:
            upd = emu.send_text(BUDI, "/start")
            menu = await emu.wait_reply(BUDI.id, contains="Pilih pos")
            await emu.wait_acknowledged(upd)
            emu.press_button(BUDI, menu, "pos:2")
            edited = await emu.wait_reply(BUDI.id, contains="Dipilih pos:2")
            assert edited.method == "editMessageText"
            assert edited.message_id == menu.message_id
            answer = await emu.wait_for(lambda s: s.method == "answerCallbackQuery")
            assert isinstance(answer, Sent) and answer.chat_id == BUDI.id
        finally:
            await app.updater.stop()
            await app.stop()
