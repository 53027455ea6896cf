"""Supervisors and admins on the bot, end to end: /pantau, /laporan, the issue buttons and
notes, and the announcement of new issues (SPEC §2 issues, §3 supervisor, §5 groups).

The bot is the real Application polling the fake Bot API. Messages the bot sends on its
own initiative are checked as outbox rows, whatever the sender has done with them.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.app import PoskoApp, build_application, running
from bot.core.clock import FakeClock
from bot.core.runtime import Runtime
from bot.rehearsal.emulator import FakeBotApi, FakeUser, Sent
from bot.reports.desk import announce_new_issue
from storage import areas, issues, members
from storage.db import Database, Tx
from storage.outbox import Priority
from storage.records import Issue
from tests.conftest import (
    ADMIN,
    BUDI,
    CAMAT,
    JOHN,
    LURAH,
    MONAS,
    SARI,
    STRANGER,
    T0,
    AppFactory,
    Phone,
    make_settings,
)

Phones = Callable[[FakeUser], Phone]


@pytest.fixture
def start_sv(emu: FakeBotApi, db_path: Path, clock: FakeClock) -> AppFactory:
    @asynccontextmanager
    async def _start(**sections: Any) -> AsyncIterator[PoskoApp]:
        app = build_application(make_settings(emu, db_path, **sections), clock)
        async with running(app, poll_timeout=timedelta(seconds=1)):
            yield app

    return _start


@pytest.fixture
async def sv_bot(start_sv: AppFactory) -> AsyncIterator[PoskoApp]:
    async with start_sv() as app:
        yield app


# --- helpers --------------------------------------------------------------------------------


def runtime_of(app: PoskoApp) -> Runtime:
    runtime = app.bot_data["runtime"]
    assert isinstance(runtime, Runtime)
    return runtime


async def query(app: PoskoApp, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    async with runtime_of(app).database.read() as tx:
        return [tuple(row) for row in await tx.all(sql, params)]


async def ask(emu: FakeBotApi, user: FakeUser, text: str, contains: str) -> Sent:
    """Send a text and wait for the bot's reply that contains ``contains`` (alerts and other
    queued messages may reach the same chat meanwhile)."""
    mark = emu.mark()
    emu.send_text(user, text)
    return await emu.wait_reply(user.id, after=mark, contains=contains)


async def settle(app: PoskoApp) -> None:
    """Let the watcher handle what is due now, so that the states set next stay put."""
    watcher = runtime_of(app).watcher
    assert watcher is not None
    await watcher.sweep()


async def set_states(app: PoskoApp, states: dict[str, tuple[str, datetime]]) -> None:
    await settle(app)
    async with runtime_of(app).database.transaction() as tx:
        for code, (state, since) in states.items():
            await tx.execute(
                "UPDATE posts SET state = ?, state_since = ?, next_due_at = NULL WHERE code = ?",
                (state, since.isoformat(), code),
            )


async def add_posts(
    tx: Tx, area_code: str, posts: list[tuple[str, str, str, datetime]], now: datetime
) -> None:
    """(code, name, state, state_since) posts that the watcher leaves alone."""
    area = await areas.by_code(tx, area_code)
    assert area is not None
    for code, name, state, since in posts:
        await tx.execute(
            "INSERT INTO posts (code, name, area_id, state, state_since, created_at, updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            (code, name, area.id, state, since.isoformat(), now.isoformat(), now.isoformat()),
        )


async def file_issue(
    tx: Tx,
    post_code: str,
    reporter: str,
    text: str = "Kotak suara TPS 12 belum datang",
    severity: str = "sedang",
    at: datetime = T0,
    photos: tuple[str, ...] = (),
) -> Issue:
    post_id = await tx.scalar("SELECT id FROM posts WHERE code = ?", (post_code,))
    member = await members.by_ref(tx, reporter)
    assert post_id is not None and member is not None
    return await issues.create(
        tx,
        issues.NewIssue(
            post_id=int(post_id),
            post_code=post_code,
            reporter_id=member.id,
            category="logistik",
            severity=severity,
            text=text,
            photos=list(photos),
            latitude=None,
            longitude=None,
        ),
        at,
    )


async def new_issue(app: PoskoApp, post_code: str, reporter: str, **kwargs: Any) -> Issue:
    async with runtime_of(app).database.transaction() as tx:
        return await file_issue(tx, post_code, reporter, **kwargs)


async def outbox_rows(
    app: PoskoApp, kind: str, chat_id: int | None = None
) -> list[tuple[int, int, str, dict[str, Any]]]:
    """(chat_id, priority, text, payload) of queued messages of ``kind``."""
    sql = "SELECT chat_id, priority, payload FROM outbox WHERE kind = ?"
    params: tuple[object, ...] = (kind,)
    if chat_id is not None:
        sql += " AND chat_id = ?"
        params += (chat_id,)
    rows = await query(app, sql + " ORDER BY id", params)
    result = []
    for chat, priority, payload in rows:
        data = json.loads(payload)
        result.append((int(chat), int(priority), str(data["text"]), data))
    return result


async def laporan_card(
    emu: FakeBotApi, user: FakeUser, ref: str, command: str = "/laporan"
) -> Sent:
    mark = emu.mark()
    emu.send_text(user, command)
    return await emu.wait_reply(user.id, after=mark, contains=ref)


def post_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if " WIB" in line and " · " in line]


# --- /pantau --------------------------------------------------------------------------------


async def test_pantau_lurah_sees_only_his_kelurahan(sv_bot: PoskoApp, emu: FakeBotApi) -> None:
    await set_states(
        sv_bot,
        {
            "KBJ-01": ("silent", T0 - timedelta(minutes=30)),
            "KBJ-02": ("unstaffed", T0 - timedelta(minutes=10)),
            "KEC-KBJ": ("staffed", T0 - timedelta(hours=2)),
        },
    )
    shown = await ask(emu, LURAH, "/pantau", "Pantau posko")
    text = shown.text or ""
    assert "Kebon Jeruk" in text.splitlines()[0]
    assert "Total 1 posko" in text and "senyap 1" in text and "kosong 0" in text
    assert post_lines(text) == ["🔕 KBJ-01 · Posko Kel. Kebon Jeruk · sejak 18:30 WIB"]
    assert "KBJ-02" not in text and "KEC-KBJ" not in text
    # the problem post opens with one tap; nothing else is offered
    assert [label for label, _ in emu.inline_buttons(shown)] == ["🔎 KBJ-01"]


async def test_pantau_camat_sees_the_kecamatan_problems_first(
    sv_bot: PoskoApp, emu: FakeBotApi
) -> None:
    await set_states(
        sv_bot,
        {
            "KBJ-01": ("staffed", T0 - timedelta(hours=1)),
            "KBJ-02": ("unstaffed", T0 - timedelta(minutes=10)),
            "KEC-KBJ": ("silent", T0 - timedelta(minutes=45)),
        },
    )
    text = (await ask(emu, CAMAT, "/monitor", "Pantau posko")).text or ""
    assert "Total 3 posko" in text
    assert "senyap 1" in text and "kosong 1" in text and "terpantau 1" in text
    lines = post_lines(text)
    assert [line.split(" · ")[0] for line in lines] == ["🔕 KEC-KBJ", "🚨 KBJ-02", "✅ KBJ-01"]
    assert lines[0].endswith("sejak 18:15 WIB")


async def test_pantau_admin_sees_everything(sv_bot: PoskoApp, emu: FakeBotApi) -> None:
    await settle(sv_bot)
    async with runtime_of(sv_bot).database.transaction() as tx:
        await add_posts(
            tx, "31.73", [("KOTA-01", "Posko Kota", "paused", T0 - timedelta(days=1))], T0
        )
    text = (await ask(emu, ADMIN, "/pantau", "Pantau posko")).text or ""
    assert "semua wilayah" in text
    assert "Total 4 posko" in text and "jeda 1" in text
    codes = {line.split(" · ")[0].split(" ")[1] for line in post_lines(text)}
    assert codes == {"KBJ-01", "KBJ-02", "KEC-KBJ", "KOTA-01"}
    assert "⏸️ KOTA-01 · Posko Kota · sejak 23/11 19:00 WIB" in text
    camat = (await ask(emu, CAMAT, "/pantau", "Pantau posko")).text or ""
    assert "KOTA-01" not in camat and "Total 3 posko" in camat


async def test_pantau_with_real_watch_states(
    sv_bot: PoskoApp, emu: FakeBotApi, phone: Phones, clock: FakeClock
) -> None:
    checked_in = await phone(BUDI).location(*MONAS)
    assert "KBJ-01" in (checked_in.text or "")
    clock.advance(timedelta(minutes=16))
    await settle(sv_bot)
    text = (await ask(emu, CAMAT, "/pantau", "Pantau posko")).text or ""
    assert "kosong 2" in text and "terpantau 1" in text
    lines = post_lines(text)
    assert [line.split(" · ")[0] for line in lines] == ["🚨 KBJ-02", "🚨 KEC-KBJ", "✅ KBJ-01"]
    assert "sejak 19:1" in lines[0]  # unstaffed since the grace ran out
    assert lines[2].endswith("sejak 19:00 WIB")  # staffed since the check-in


async def test_pantau_is_refused_to_officers_and_strangers(
    sv_bot: PoskoApp, emu: FakeBotApi, phone: Phones
) -> None:
    refused = await phone(BUDI).send("/pantau")
    assert "khusus untuk pengawas dan admin" in (refused.text or "")
    english = await phone(JOHN).send("/monitor")
    assert "supervisors and admins only" in (english.text or "")
    stranger = await phone(STRANGER).send("/pantau")
    assert "belum terdaftar" in (stranger.text or "")
    forged = await phone(BUDI).press(refused, "sv:p:2", forge=True)
    assert "tidak berlaku" in (forged.params.get("text") or "")
    laporan = await phone(SARI).send("/laporan")  # an officer is pointed to their commands
    assert "/lapor membuat" in (laporan.text or "") and "/laporanku" in (laporan.text or "")


async def test_pantau_pages(sv_bot: PoskoApp, emu: FakeBotApi, phone: Phones) -> None:
    await set_states(sv_bot, {"KBJ-01": ("closed", T0 - timedelta(hours=3))})
    extra = []
    for number in range(40):
        state = "silent" if number < 5 else "unstaffed" if number < 10 else "staffed"
        since = T0 - timedelta(minutes=number + 1)
        extra.append((f"TPS-{number:02d}", f"Posko TPS {number:02d} Kebon Jeruk", state, since))
    async with runtime_of(sv_bot).database.transaction() as tx:
        await add_posts(tx, "31.73.01.1001", extra, T0)
    lurah = phone(LURAH)
    first = await ask(emu, LURAH, "/pantau", "Pantau posko")
    text = first.text or ""
    assert "Total 41 posko" in text and "Hal. 1/3" in text
    lines = post_lines(text)
    assert len(lines) == 15
    assert all(line.startswith("🔕") for line in lines[:5])
    assert all(line.startswith("🚨") for line in lines[5:10])
    assert lines[0].startswith("🔕 TPS-04")  # silent longest first
    assert len(text.splitlines()) <= 22
    looks = [label for label, data in lurah.buttons(first) if data.startswith("sv:d:")]
    assert looks == ["🔎 TPS-04", "🔎 TPS-03", "🔎 TPS-02", "🔎 TPS-01", "🔎 TPS-00", "🔎 TPS-09"]
    assert [b for b in lurah.buttons(first) if b[1].startswith("sv:p:")] == [
        ("Berikutnya ▶️", "sv:p:2")
    ]
    second = await lurah.press_and_reply(first, "sv:p:2")
    assert second.method == "editMessageText" and "Hal. 2/3" in (second.text or "")
    assert len(post_lines(second.text or "")) == 15
    pages = [data for _, data in lurah.buttons(second) if data.startswith("sv:p:")]
    assert pages == ["sv:p:1", "sv:p:3"]
    third = await lurah.press_and_reply(first, "sv:p:3")
    assert "Hal. 3/3" in (third.text or "")
    assert len(post_lines(third.text or "")) == 11
    assert "🌙 KBJ-01" in (third.text or "")
    assert [data for _, data in lurah.buttons(third) if data.startswith("sv:p:")] == ["sv:p:2"]
    below = await lurah.press_and_reply(first, "sv:p:0", forge=True)
    assert "Hal. 1/3" in (below.text or "")


async def test_pantau_lists_open_alerts_first_and_takes_from_there(
    sv_bot: PoskoApp, emu: FakeBotApi, phone: Phones, clock: FakeClock
) -> None:
    await phone(BUDI).location(*MONAS)
    clock.advance(timedelta(minutes=16))
    await settle(sv_bot)  # KBJ-02 and KEC-KBJ are empty past their grace: two alerts
    camat = phone(CAMAT)
    mark = emu.mark()
    emu.send_text(CAMAT, "/pantau")
    listed = await emu.wait_reply(CAMAT.id, after=mark, contains="Peringatan terbuka")
    overview_page = await emu.wait_reply(CAMAT.id, after=mark, contains="Pantau posko")
    assert listed.message_id is not None and overview_page.message_id is not None
    assert listed.message_id < overview_page.message_id  # alerts come first
    text = listed.text or ""
    assert "Peringatan terbuka: 2" in text
    assert "KBJ-02 · Posko Kel. Sukabumi Utara · posko kosong sejak 19:1" in text
    assert text.count("belum diambil alih") == 2
    takes = camat.buttons(listed)
    assert [label for label, _ in takes] == ["✋ KBJ-02", "🔎 KBJ-02", "✋ KEC-KBJ", "🔎 KEC-KBJ"]
    # the /pantau list may still be arriving in parts: the answer is the one that says it
    taken = await camat.press_and_reply(listed, takes[0][1], contains="mengambil alih")
    assert "KBJ-02" in (taken.text or "")
    # only the pressed button goes; the other alert can still be taken from the same list
    now_shown = emu.message(CAMAT.id, listed.message_id)
    assert now_shown is not None
    left = [label for label, _ in emu.inline_buttons(now_shown)]
    assert left == ["🔎 KBJ-02", "✋ KEC-KBJ", "🔎 KEC-KBJ"]
    again = await ask(emu, CAMAT, "/pantau", "Peringatan terbuka")
    assert "diambil alih oleh Camat Kebon Jeruk pukul 19:16" in (again.text or "")
    # the lurah sees only his kelurahan's post: no alert there
    lurah_view = await ask(emu, LURAH, "/pantau", "Pantau posko")
    assert "Peringatan terbuka" not in (lurah_view.text or "")


async def test_taking_from_pantau_hears_the_recovery(
    sv_bot: PoskoApp, emu: FakeBotApi, phone: Phones, clock: FakeClock
) -> None:
    await settle(sv_bot)
    clock.advance(timedelta(minutes=16))
    await settle(sv_bot)  # every post is empty: the lurah and the camat are alerted
    admin = phone(ADMIN)  # the city team was not alerted, but takes KBJ-01 from the list
    listed = await ask(emu, ADMIN, "/pantau", "Peringatan terbuka")
    (take,) = [data for label, data in admin.buttons(listed) if label == "✋ KBJ-01"]
    await admin.press_and_reply(listed, take, contains="mengambil alih")
    mark = emu.mark()  # the reply to the check-in, not a reminder the sender delivers meanwhile
    emu.send_location(BUDI, *MONAS)
    await emu.wait_reply(BUDI.id, after=mark, contains="Hadir tercatat")
    await settle(sv_bot)
    told = [row[0] for row in await outbox_rows(sv_bot, "recovered")]
    assert ADMIN.id in told and LURAH.id in told


async def test_pantau_one_post_shows_who_is_where_and_how_to_reach_them(
    sv_bot: PoskoApp, emu: FakeBotApi, phone: Phones, clock: FakeClock
) -> None:
    async with runtime_of(sv_bot).database.transaction() as tx:
        await tx.execute("UPDATE members SET phone = '+6281234567890' WHERE ref = 'sari'")
    budi = phone(BUDI)
    checked_in = await budi.location(MONAS[0] + 0.01, MONAS[1])  # about 1.1 km away
    assert "di luar area" in (checked_in.text or "")
    await budi.send("/aman hujan deras, aman")
    issue = await new_issue(sv_bot, "KBJ-01", "budi", severity="tinggi")
    clock.advance(timedelta(minutes=16))
    await settle(sv_bot)

    one = (await ask(emu, CAMAT, "/pantau KBJ-01", "KBJ-01 ·")).text or ""
    assert "Status: ✅ terpantau" in one
    assert "• Budi Santoso sejak 19:00 · ⚠️ di luar area, 11" in one
    assert "• Sari Dewi +6281234567890" in one  # the phone Telegram makes tappable
    assert "Kabar terakhir: situasi aman 19:00 oleh Budi Santoso — “hujan deras, aman”" in one
    assert "Peringatan: tidak ada." in one
    assert f"• {issue.ref} · Tinggi · Logistik · baru" in one

    empty = await ask(emu, CAMAT, "/pantau kbj-02", "KBJ-02 ·")
    text = empty.text or ""
    assert "Bertugas: belum ada." in text and "posko kosong sejak 19:1" in text
    assert "Anggota Baru · tanpa no. HP · belum terdaftar di bot" in text
    assert [label for label, _ in phone(CAMAT).buttons(empty)] == ["✋ Ambil alih"]

    # outside the scope: answered exactly like a post that does not exist
    refused = (await ask(emu, LURAH, "/pantau KBJ-02", "tidak ada")).text or ""
    assert "Sari" not in refused and "+62" not in refused
    unknown = (await ask(emu, LURAH, "/pantau XYZ-99", "tidak ada")).text or ""
    assert unknown == refused
    usage = (await ask(emu, LURAH, "/pantau a b", "Format")).text or ""
    assert "/pantau KODE_POSKO" in usage


async def test_pantau_look_button_opens_the_post_and_refuses_forgeries(
    sv_bot: PoskoApp, emu: FakeBotApi, phone: Phones, clock: FakeClock
) -> None:
    clock.advance(timedelta(minutes=16))
    await settle(sv_bot)
    lurah = phone(LURAH)
    page = await ask(emu, LURAH, "/pantau", "Pantau posko")
    ((label, data),) = [b for b in lurah.buttons(page) if b[1].startswith("sv:d:")]
    assert label == "🔎 KBJ-01"
    opened = await lurah.press_and_reply(page, data)
    assert opened.text is not None and opened.text.startswith("🏠 KBJ-01")
    kbj02 = await query(sv_bot, "SELECT id FROM posts WHERE code = 'KBJ-02'")
    mark = emu.mark()
    emu.press_button(LURAH, page, f"sv:d:{kbj02[0][0]}", check=False)
    # acknowledged is not yet answered (the inbox stores it first): wait for the answer
    await emu.wait_for(lambda s: s.method == "answerCallbackQuery", after=mark)
    assert not [s for s in emu.sent[mark:] if s.method == "sendMessage"]


async def test_status_for_a_supervisor_answers_for_the_subtree(
    sv_bot: PoskoApp, emu: FakeBotApi, clock: FakeClock
) -> None:
    clock.advance(timedelta(minutes=16))
    await settle(sv_bot)
    shown = (await ask(emu, CAMAT, "/status", "Pantau posko")).text or ""
    assert "belum ditugaskan" not in shown and "Total 3 posko" in shown
    assert "/pantau KODE" in shown
    lurah = (await ask(emu, LURAH, "/status", "Pantau posko")).text or ""
    assert "Total 1 posko" in lurah and "KBJ-02" not in lurah


# --- /laporan -------------------------------------------------------------------------------


async def test_laporan_is_scoped_and_newest_first(
    sv_bot: PoskoApp, emu: FakeBotApi, phone: Phones
) -> None:
    older = await new_issue(sv_bot, "KBJ-01", "budi", at=T0 - timedelta(minutes=30))
    await new_issue(sv_bot, "KBJ-02", "sari", at=T0 - timedelta(minutes=20), text="DPT ganda")
    newer = await new_issue(
        sv_bot, "KBJ-01", "sari", at=T0 - timedelta(minutes=5), photos=("f1", "f2")
    )
    mark = emu.mark()
    emu.send_text(LURAH, "/laporan")
    header = await emu.wait_reply(LURAH.id, after=mark, contains="Laporan di wilayah Bapak/Ibu")
    assert "(terbuka): 2" in (header.text or "")
    last = await emu.wait_reply(LURAH.id, after=mark, contains=older.ref)
    cards = [s for s in emu.sent_to(LURAH.id, "sendMessage") if s.index >= mark]
    refs = [s.text.splitlines()[0] for s in cards if s.text and s.text.startswith("🆕")]
    assert refs == ["🆕 KBJ-01/0002 · baru", "🆕 KBJ-01/0001 · baru"]
    assert not any("KBJ-02" in (s.text or "") for s in cards)
    newer_card = next(s for s in cards if newer.ref in (s.text or ""))
    assert "📷 2 foto" in (newer_card.text or "") and "Sari Dewi" in (newer_card.text or "")
    assert phone(LURAH).buttons(last) == [
        ("✅ Terima", f"sv:i:{older.id}:accept"),
        ("❌ Tolak", f"sv:i:{older.id}:reject"),
        ("➡️ Teruskan", f"fw:s:{older.id}"),  # disposisi to a partner agency (issue 10)
    ]
    camat = await ask(emu, CAMAT, "/laporan", "Laporan di wilayah Bapak/Ibu")
    assert "(terbuka): 3" in (camat.text or "")
    await emu.wait_reply(CAMAT.id, after=camat.index, contains="KBJ-02/0001")
    empty = await ask(emu, LURAH, "/laporan selesai", "Tidak ada laporan")
    assert "(selesai)" in (empty.text or "")
    usage = await ask(emu, LURAH, "/laporan kemarin", "Format")
    assert "diterima" in (usage.text or "")
    hidden = await ask(emu, LURAH, "/laporan KBJ-02/0001", "KBJ-02/0001")
    assert "tidak ditemukan" in (hidden.text or "")
    shown = await ask(emu, CAMAT, "/issues kbj-02/0001", "KBJ-02/0001")
    assert "DPT ganda" in (shown.text or "")


async def test_laporan_pages(sv_bot: PoskoApp, emu: FakeBotApi, phone: Phones) -> None:
    for minute in range(7):
        await new_issue(sv_bot, "KBJ-01", "budi", at=T0 + timedelta(minutes=minute))
    mark = emu.mark()
    emu.send_text(LURAH, "/laporan")
    more = await emu.wait_reply(LURAH.id, after=mark, contains="Halaman 1/2")
    shown = [s for s in emu.sent_to(LURAH.id, "sendMessage") if s.index >= mark]
    assert sum(1 for s in shown if (s.text or "").startswith("🆕")) == 5
    assert phone(LURAH).buttons(more) == [("Berikutnya ▶️", "sv:l:open:2")]
    mark = emu.mark()
    emu.press_button(LURAH, more, "sv:l:open:2")
    header = await emu.wait_reply(LURAH.id, after=mark, contains="Ditampilkan 6–7")
    assert header.text
    await emu.wait_reply(LURAH.id, after=mark, contains="KBJ-01/0001")
    footer = emu.message(LURAH.id, more.message_id or 0)
    assert footer is not None and "reply_markup" not in footer


# --- moving issues --------------------------------------------------------------------------


async def test_accept_start_resolve_with_note(
    sv_bot: PoskoApp, emu: FakeBotApi, phone: Phones
) -> None:
    issue = await new_issue(sv_bot, "KBJ-01", "budi")
    lurah = phone(LURAH)
    card = await laporan_card(emu, LURAH, issue.ref)
    accepted = await lurah.press_and_reply(card, f"sv:i:{issue.id}:accept")
    assert accepted.method == "editMessageText"
    assert (accepted.text or "").startswith("📥 KBJ-01/0001 · diterima")
    assert "Penanggung jawab: Lurah Kebon Jeruk" in (accepted.text or "")
    assert [data for _, data in lurah.buttons(accepted)] == [
        f"sv:i:{issue.id}:start",
        f"sv:i:{issue.id}:resolve",
        f"sv:i:{issue.id}:reject",
        f"fw:s:{issue.id}",
    ]
    started = await lurah.press_and_reply(card, f"sv:i:{issue.id}:start")
    assert (started.text or "").startswith("🛠️ KBJ-01/0001 · ditangani")
    prompt = await lurah.press_and_reply(card, f"sv:i:{issue.id}:resolve")
    assert "catatan penyelesaian" in (prompt.text or "")
    assert await query(sv_bot, "SELECT status FROM issues") == [("ditangani",)]
    done = await lurah.send("Kotak suara cadangan sudah dikirim dari kecamatan")
    assert "selesai" in (done.text or "")
    final = await emu.wait_for(
        lambda s: s.method == "editMessageText" and s.message_id == card.message_id,
        after=done.index,
    )
    assert (final.text or "").startswith("✅ KBJ-01/0001 · selesai")
    assert [data for _, data in lurah.buttons(final)] == [f"sv:i:{issue.id}:reopen"]

    lurah_id = (await query(sv_bot, "SELECT id FROM members WHERE ref = 'lurah'"))[0][0]
    assert await query(sv_bot, "SELECT status, assignee_id FROM issues") == [("selesai", lurah_id)]
    events = await query(
        sv_bot, "SELECT kind, actor_id, from_status, to_status, note FROM issue_events ORDER BY id"
    )
    assert events[1:] == [
        ("status", lurah_id, "baru", "diterima", None),
        ("status", lurah_id, "diterima", "ditangani", None),
        (
            "status",
            lurah_id,
            "ditangani",
            "selesai",
            "Kotak suara cadangan sudah dikirim dari kecamatan",
        ),
    ]
    assert events[0][0] == "created"
    audit = await query(sv_bot, "SELECT action, entity, actor_id FROM audit_log ORDER BY id")
    assert [row for row in audit if row[1] == "issue"] == [
        ("issue_accept", "issue", lurah_id),
        ("issue_start", "issue", lurah_id),
        ("issue_resolve", "issue", lurah_id),
    ]
    notices = await outbox_rows(sv_bot, "issue_status", BUDI.id)
    assert [priority for _, priority, _, _ in notices] == [Priority.NOTICE] * 3
    texts = [text for _, _, text, _ in notices]
    assert "diterima oleh Lurah Kebon Jeruk" in texts[0]
    assert "sedang ditangani" in texts[1]
    assert "Catatan: Kotak suara cadangan sudah dikirim" in texts[2]
    assert await query(sv_bot, "SELECT count(*) FROM drafts") == [(0,)]


async def test_reject_with_reason_and_cancel(
    sv_bot: PoskoApp, emu: FakeBotApi, phone: Phones
) -> None:
    issue = await new_issue(sv_bot, "KBJ-02", "sari", text="Baliho di depan TPS")
    english = await new_issue(sv_bot, "KEC-KBJ", "john", text="Ballot boxes late")
    camat = phone(CAMAT)
    card = await laporan_card(emu, CAMAT, issue.ref)
    prompt = await camat.press_and_reply(card, f"sv:i:{issue.id}:reject")
    assert "alasan penolakan KBJ-02/0001" in (prompt.text or "")
    too_long = await camat.send("x" * 600)
    assert "terlalu panjang" in (too_long.text or "")
    cancelled = await camat.send("batal")
    assert "tidak berubah" in (cancelled.text or "")
    assert "tidak dipahami" in ((await camat.send("halo")).text or "")
    await camat.press_and_reply(card, f"sv:i:{issue.id}:reject")
    done = await camat.send("Bukan pelanggaran, baliho milik panitia")
    assert "ditolak" in (done.text or "")
    assert await query(sv_bot, "SELECT status FROM issues WHERE id = ?", (issue.id,)) == [
        ("ditolak",)
    ]
    events = await query(
        sv_bot,
        "SELECT from_status, to_status, note FROM issue_events"
        " WHERE issue_id = ? AND kind = 'status'",
        (issue.id,),
    )
    assert events == [("baru", "ditolak", "Bukan pelanggaran, baliho milik panitia")]
    (notice,) = await outbox_rows(sv_bot, "issue_status", SARI.id)
    assert "ditolak oleh Camat Kebon Jeruk" in notice[2]
    assert "Alasan: Bukan pelanggaran" in notice[2]
    # the reporter reads it in their own language
    english_card = await laporan_card(emu, CAMAT, english.ref)
    await camat.press_and_reply(english_card, f"sv:i:{english.id}:accept")
    (john,) = await outbox_rows(sv_bot, "issue_status", JOHN.id)
    assert "Your report KEC-KBJ/0001 was accepted by Camat Kebon Jeruk" in john[2]


async def test_forged_callbacks_change_nothing(
    sv_bot: PoskoApp, emu: FakeBotApi, phone: Phones
) -> None:
    outside = await new_issue(sv_bot, "KBJ-02", "sari")
    inside = await new_issue(sv_bot, "KBJ-01", "budi")
    lurah = phone(LURAH)
    header = await ask(emu, LURAH, "/laporan", "Laporan di wilayah Bapak/Ibu")
    for action in ("accept", "reject", "start"):
        answer = await lurah.press(header, f"sv:i:{outside.id}:{action}", forge=True)
        assert "tidak berlaku" in (answer.params.get("text") or "")
    for data in ("sv:i:abc:accept", f"sv:i:{inside.id}:explode", "sv:i:99999:accept", "sv:x"):
        answer = await lurah.press(header, data, forge=True)
        assert "tidak berlaku" in (answer.params.get("text") or "")
    budi = phone(BUDI)
    mine = await budi.send("/laporanku")
    answer = await budi.press(mine, f"sv:i:{inside.id}:accept", forge=True)
    assert "tidak berlaku" in (answer.params.get("text") or "")
    stranger = await phone(STRANGER).press(header, f"sv:i:{inside.id}:accept", forge=True)
    assert "belum terdaftar" in (stranger.params.get("text") or "")
    assert await query(sv_bot, "SELECT status, assignee_id FROM issues ORDER BY id") == [
        ("baru", None),
        ("baru", None),
    ]
    assert await query(sv_bot, "SELECT count(*) FROM issue_events WHERE kind = 'status'") == [(0,)]
    assert await query(sv_bot, "SELECT count(*) FROM audit_log WHERE entity = 'issue'") == [(0,)]
    assert await query(sv_bot, "SELECT count(*) FROM drafts") == [(0,)]
    assert await outbox_rows(sv_bot, "issue_status") == []


async def test_stale_buttons_after_another_supervisor_moved_it(
    sv_bot: PoskoApp, emu: FakeBotApi, phone: Phones
) -> None:
    issue = await new_issue(sv_bot, "KBJ-01", "budi")
    lurah, camat = phone(LURAH), phone(CAMAT)
    lurah_card = await laporan_card(emu, LURAH, issue.ref)
    camat_card = await laporan_card(emu, CAMAT, issue.ref)
    await lurah.press_and_reply(lurah_card, f"sv:i:{issue.id}:accept")
    stale = await camat.press(camat_card, f"sv:i:{issue.id}:accept")
    assert "sudah diterima oleh Lurah Kebon Jeruk" in (stale.params.get("text") or "")
    refreshed = await emu.wait_for(
        lambda s: s.method == "editMessageText" and s.chat_id == CAMAT.id, after=stale.index
    )
    assert [data for _, data in camat.buttons(refreshed)] == [
        f"sv:i:{issue.id}:start",
        f"sv:i:{issue.id}:resolve",
        f"sv:i:{issue.id}:reject",
        f"fw:s:{issue.id}",
    ]
    # both start a note: the first note to arrive wins, the other is told it came too late
    await lurah.press_and_reply(lurah_card, f"sv:i:{issue.id}:start")
    await lurah.press_and_reply(lurah_card, f"sv:i:{issue.id}:resolve")
    await camat.press_and_reply(camat_card, f"sv:i:{issue.id}:reject")
    rejected = await camat.send("Sudah ditangani oleh Bawaslu")
    assert "ditolak" in (rejected.text or "")
    late = await lurah.send("Kotak suara sudah dikirim")
    assert "sudah ditolak oleh Camat Kebon Jeruk" in (late.text or "")
    assert "tidak disimpan" in (late.text or "")
    assert await query(sv_bot, "SELECT status FROM issues") == [("ditolak",)]
    steps = await query(
        sv_bot, "SELECT to_status FROM issue_events WHERE kind = 'status' ORDER BY id"
    )
    assert steps == [("diterima",), ("ditangani",), ("ditolak",)]
    assert await query(sv_bot, "SELECT count(*) FROM drafts") == [(0,)]


async def test_note_survives_a_restart(
    start_sv: AppFactory, emu: FakeBotApi, db_path: Path
) -> None:
    lurah = Phone(emu, LURAH)
    async with start_sv() as app:
        issue = await new_issue(app, "KBJ-01", "budi")
        card = await laporan_card(emu, LURAH, issue.ref)
        await lurah.press_and_reply(card, f"sv:i:{issue.id}:accept")
        await lurah.press_and_reply(card, f"sv:i:{issue.id}:start")
        prompt = await lurah.press_and_reply(card, f"sv:i:{issue.id}:resolve")
        assert "catatan" in (prompt.text or "")
    async with start_sv() as app:
        done = await lurah.send("Sudah beres setelah bot dinyalakan ulang")
        assert "selesai" in (done.text or "")
        assert await query(app, "SELECT status FROM issues") == [("selesai",)]
        (last,) = await query(app, "SELECT note FROM issue_events WHERE to_status = 'selesai'")
        assert last == ("Sudah beres setelah bot dinyalakan ulang",)
        notices = await outbox_rows(app, "issue_status", BUDI.id)
        assert "Sudah beres" in notices[-1][2]


async def test_a_report_in_progress_is_not_overwritten(
    sv_bot: PoskoApp, emu: FakeBotApi, phone: Phones
) -> None:
    async with runtime_of(sv_bot).database.transaction() as tx:
        await tx.execute(
            "INSERT INTO member_roles (member_id, role) SELECT id, 'officer'"
            " FROM members WHERE ref = 'lurah'"
        )
        await tx.execute(
            "INSERT INTO assignments (member_id, post_id) SELECT m.id, p.id"
            " FROM members m, posts p WHERE m.ref = 'lurah' AND p.code = 'KBJ-01'"
        )
    issue = await new_issue(sv_bot, "KBJ-01", "budi")
    lurah = phone(LURAH)
    card = await laporan_card(emu, LURAH, issue.ref)
    await lurah.send("/lapor")
    busy = await lurah.press(card, f"sv:i:{issue.id}:reject")
    assert "/batal" in (busy.params.get("text") or "")
    assert await query(sv_bot, "SELECT kind FROM drafts") == [("report",)]


async def test_a_note_being_asked_for_is_not_overwritten_by_lapor(
    sv_bot: PoskoApp, emu: FakeBotApi, phone: Phones
) -> None:
    async with runtime_of(sv_bot).database.transaction() as tx:
        await tx.execute(
            "INSERT INTO member_roles (member_id, role) SELECT id, 'officer'"
            " FROM members WHERE ref = 'lurah'"
        )
        await tx.execute(
            "INSERT INTO assignments (member_id, post_id) SELECT m.id, p.id"
            " FROM members m, posts p WHERE m.ref = 'lurah' AND p.code = 'KBJ-01'"
        )
    issue = await new_issue(sv_bot, "KBJ-01", "budi")
    lurah = phone(LURAH)
    card = await laporan_card(emu, LURAH, issue.ref)
    await lurah.press_and_reply(card, f"sv:i:{issue.id}:reject")  # asks for the reason
    for command in ("/lapor", "/lapor kotak suara hilang"):
        refused = await lurah.send(command)
        assert "diminta menulis catatan" in (refused.text or ""), command
    assert await query(sv_bot, "SELECT kind FROM drafts") == [("issue_note",)]
    await lurah.send("Laporan ganda, sudah ditangani di KBJ-02")
    rows = await query(sv_bot, "SELECT status FROM issues WHERE id = ?", (issue.id,))
    assert rows == [("ditolak",)]


# --- announcing new issues ------------------------------------------------------------------


async def _announced(
    db_path: Path, post: str, reporter: str, severity: str, **kwargs: Any
) -> tuple[Issue, list[tuple[int, int | None, int, str, dict[str, Any]]]]:
    db = await Database.open(db_path)
    try:
        async with db.transaction() as tx:
            issue = await file_issue(tx, post, reporter, severity=severity, **kwargs)
            count = await announce_new_issue(tx, issue, T0)
        async with db.read() as tx:
            rows = await tx.all(
                "SELECT chat_id, topic_id, priority, kind, payload, ref_type, ref_id FROM outbox"
                " WHERE ref_id = ? AND kind != 'issue_evidence' ORDER BY id",
                (issue.id,),
            )
    finally:
        await db.close()
    assert count == len(rows)
    assert all(row[3] == "issue_new" and row[5] == "issue" for row in rows)
    return issue, [
        (row[0], row[1], row[2], json.loads(row[4])["text"], json.loads(row[4])) for row in rows
    ]


async def test_announce_goes_to_the_nearest_supervisors(db_path: Path) -> None:
    long_text = "Surat suara rusak. " * 30
    issue, rows = await _announced(
        db_path, "KBJ-01", "budi", "sedang", text=long_text, photos=("a", "b")
    )
    assert [(chat, topic, priority) for chat, topic, priority, _, _ in rows] == [
        (LURAH.id, None, Priority.NOTICE)
    ]
    text, payload = rows[0][3], rows[0][4]
    assert text.startswith("📣 Laporan baru dari KBJ-01")
    assert "KBJ-01/0001" in text and "Budi Santoso" in text and "Logistik" in text
    assert "Sedang" in text and "📷 2 foto" in text
    assert "…" in text and len(text) < len(long_text)
    assert [b["callback_data"] for b in payload["reply_markup"]["inline_keyboard"][0]] == [
        f"sv:i:{issue.id}:accept",
        f"sv:i:{issue.id}:reject",
    ]
    _, rows = await _announced(db_path, "KBJ-02", "sari", "tinggi")
    assert [(chat, priority) for chat, _, priority, _, _ in rows] == [(CAMAT.id, Priority.NOTICE)]


async def test_darurat_goes_to_the_parent_at_once(db_path: Path) -> None:
    _, rows = await _announced(db_path, "KBJ-01", "budi", "darurat")
    assert [(chat, priority) for chat, _, priority, _, _ in rows] == [
        (LURAH.id, Priority.ALERT),
        (CAMAT.id, Priority.ALERT),
    ]
    assert all("LAPORAN DARURAT" in text for _, _, _, text, _ in rows)
    # at the top of the ladder there is no parent to add
    _, rows = await _announced(db_path, "KEC-KBJ", "john", "darurat")
    assert [chat for chat, *_ in rows] == [CAMAT.id]


async def test_announce_reaches_group_chats_languages_and_admins(
    db_path: Path, clock: FakeClock
) -> None:
    db = await Database.open(db_path)
    async with db.transaction() as tx:
        kelurahan = await areas.by_code(tx, "31.73.01.1001")
        assert kelurahan is not None
        await areas.set_group_chat(tx, kelurahan.id, -100555, 7, T0)
        await tx.execute("UPDATE members SET language = 'en' WHERE ref = 'camat'")
        await add_posts(tx, "31.73", [("KOTA-01", "Posko Kota", "closed", T0)], T0)
    await db.close()
    _, rows = await _announced(db_path, "KBJ-01", "budi", "rendah")
    assert [(chat, topic) for chat, topic, *_ in rows] == [(LURAH.id, None), (-100555, 7)]
    _, rows = await _announced(db_path, "KBJ-02", "sari", "sedang")
    text, payload = rows[0][3], rows[0][4]
    assert rows[0][0] == CAMAT.id and text.startswith("📣 New report from KBJ-02")
    assert payload["reply_markup"]["inline_keyboard"][0][0]["text"] == "✅ Accept"
    # nobody supervises the city's own post: the admins hear of it
    _, rows = await _announced(db_path, "KOTA-01", "budi", "sedang")
    assert [chat for chat, *_ in rows] == [ADMIN.id]


async def test_announcement_buttons_work_and_tell_the_others(
    sv_bot: PoskoApp, emu: FakeBotApi, phone: Phones, clock: FakeClock
) -> None:
    async with runtime_of(sv_bot).database.transaction() as tx:
        issue = await file_issue(tx, "KBJ-01", "budi", severity="darurat", text="Banjir di TPS 3")
        await announce_new_issue(tx, issue, clock.now())
    delivered = await emu.wait_for(
        lambda s: (
            s.method == "sendMessage" and s.chat_id == LURAH.id and "DARURAT" in (s.text or "")
        )
    )
    accepted = await phone(LURAH).press_and_reply(delivered, f"sv:i:{issue.id}:accept")
    assert (accepted.text or "").startswith("📥 KBJ-01/0001 · diterima")
    assert await query(sv_bot, "SELECT status FROM issues") == [("diterima",)]
    taken = await outbox_rows(sv_bot, "issue_taken")
    assert [(chat, text) for chat, _, text, _ in taken] == [
        (CAMAT.id, "ℹ️ Laporan KBJ-01/0001 sudah diterima oleh Lurah Kebon Jeruk.")
    ]
    camat_copy = await emu.wait_for(
        lambda s: (
            s.method == "sendMessage" and s.chat_id == CAMAT.id and "DARURAT" in (s.text or "")
        )
    )
    stale = await phone(CAMAT).press(camat_copy, f"sv:i:{issue.id}:accept")
    assert "sudah diterima" in (stale.params.get("text") or "")
    assert await query(sv_bot, "SELECT count(*) FROM drafts") == [(0,)]
