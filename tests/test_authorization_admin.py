"""Who may use the admin's new commands and buttons (/petugas, /jam, /jam_khusus, the
rebind, invite and dated-hours buttons), end to end through the fake Bot API: a stranger,
an officer, the camat of KBJ-01's kecamatan (in scope), the camat of another kecamatan
(out of scope) and the admin.

Refused means a catalog refusal and no change at all (the matrix's tables plus staff
changes, assignments, invites and hours); allowed means the change is made."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest
from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bot.core.app import PoskoApp
from bot.core.i18n import catalog
from bot.rehearsal.emulator import FakeBotApi, FakeUser, Sent
from storage import areas, members
from storage.areas import AreaRow
from storage.db import Database
from storage.members import MemberRow
from tests.conftest import ADMIN, CAMAT, SARI, STRANGER, T0, AppFactory, Phone
from tests.test_authorization_matrix import _pattern, diff, refusal_in, runtime_of, snapshot

A, R = "allowed", "refused"

CAMAT_OTHER = FakeUser(2010, "Camat Kembangan")
ACTORS: dict[str, FakeUser] = {
    "stranger": STRANGER,
    "officer": SARI,
    "camat_in": CAMAT,
    "camat_out": CAMAT_OTHER,
    "admin": ADMIN,
}

#                                              stranger officer camat_in camat_out admin
TABLE: dict[str, tuple[str, str, str, str, str]] = {
    "/petugas":                                 (R, R, R, R, A),
    "/petugas tugaskan budi KBJ-02":            (R, R, R, R, A),
    "/petugas tambah (new officer)":            (R, R, R, R, A),
    "ad:ok: save the admin's pending change":   (R, R, R, R, A),
    "ad:x: cancel the admin's pending change":  (R, R, R, R, A),
    "ad:iv: invite the unregistered officer":   (R, R, R, R, A),
    "ad:rb: rebind code for registered budi":   (R, R, R, R, A),
    "ad:no: cancel a rebind question":          (R, R, R, R, A),
    "/undang budi (registered: asks first)":    (R, R, R, R, A),
    "/jam KBJ-01 08:00-16:00":                  (R, R, R, R, A),
    "/jam_khusus 2026-11-25 24h":               (R, R, R, R, A),
    "/jam_khusus (the list)":                   (R, R, R, R, A),
    "jk:rm: remove the admin's dated hours":    (R, R, R, R, A),
    # powers ([powers] defaults: camat and kota) within the subtree only
    "/jeda KBJ-01 30":                          (R, R, A, R, A),
    "/siaran 31.73.01.1001 <text>":             (R, R, A, R, A),
    "/ekspor laporan csv (own subtree's rows)": (R, R, A, A, A),
}  # fmt: skip

# Beyond the matrix's refusals: a post or scope outside one's subtree is answered as
# unknown (its existence is not confirmed) or as outside one's area.
LOCAL_REFUSALS = tuple(
    _pattern(catalog("id")[key]) for key in ("admin.unknown_post", "power.siaran_outside")
)


def refusal(text: str) -> str | None:
    found = refusal_in(text)
    if found is None and any(p.fullmatch(text.strip()) for p in LOCAL_REFUSALS):
        return "outside the subtree"
    return found


EXTRA_SQL = {
    "staff_changes": "SELECT id, outcome FROM staff_changes ORDER BY id",
    "assignments": "SELECT member_id, post_id FROM assignments ORDER BY 1, 2",
    "members_all": "SELECT id, ref, telegram_id FROM members ORDER BY id",
    "invites_all": "SELECT code, member_id, rebind FROM invites ORDER BY code",
    "hours": "SELECT code, hours FROM posts ORDER BY code",
    "hours_overrides": "SELECT id, removed_at FROM hours_overrides ORDER BY id",
    "paused_posts": "SELECT code, paused_until FROM posts ORDER BY code",
    "circulars_all": "SELECT id, author_id FROM circulars ORDER BY id",
    "exports": "SELECT id, actor_id FROM audit_log WHERE action = 'export' ORDER BY id",
}


async def add_other_camat(db_path: Path) -> None:
    db = await Database.open(db_path)
    try:
        async with db.transaction() as tx:
            await areas.upsert(tx, [AreaRow("31.73.02", "Kembangan", "kecamatan", "31.73")], T0)
            await members.upsert(
                tx,
                [
                    MemberRow(
                        "camat2", "Camat Kembangan", None, None, ("supervisor",), (),
                        ("31.73.02",), CAMAT_OTHER.id, None,
                    )
                ],
                T0,
            )  # fmt: skip
    finally:
        await db.close()


@dataclass
class World:
    change_id: int
    other_change_id: int
    override_id: int
    newbie_id: int
    budi_id: int


async def extra(app: PoskoApp) -> dict[str, list[tuple[object, ...]]]:
    async with runtime_of(app).database.read() as tx:
        return {name: [tuple(r) for r in await tx.all(sql)] for name, sql in EXTRA_SQL.items()}


async def build(emu: FakeBotApi, app: PoskoApp) -> World:
    admin = Phone(emu, ADMIN)
    preview = await admin.send("/petugas tugaskan budi KEC-KBJ")
    found = [d for _l, d in admin.buttons(preview) if d.startswith("ad:ok:")]
    preview = await admin.send("/petugas tugaskan sari KEC-KBJ")
    found += [d for _l, d in admin.buttons(preview) if d.startswith("ad:ok:")]
    assert len(found) == 2
    async with runtime_of(app).database.read() as tx:
        ids = {str(r[0]): int(r[1]) for r in await tx.all("SELECT ref, id FROM members")}
    change, other = (int(data.split(":")[2]) for data in found)
    added = await admin.send("/jam_khusus 2026-12-09 06:00-24:00")
    match = re.search(r"#(\d+)", added.text or "")
    assert match is not None
    return World(change, other, int(match.group(1)), ids["newbie"], ids["budi"])


async def press(emu: FakeBotApi, app: PoskoApp, user: FakeUser, data: str) -> Sent:
    """A press of ``data`` from the user's own chat: forged by anyone but the admin, who
    has the real buttons (the bot checks the role either way)."""
    markup = InlineKeyboardMarkup([[InlineKeyboardButton("·", callback_data="noop")]])
    carrier = await app.bot.send_message(user.id, "·", reply_markup=markup)
    ref = {"chat": {"id": user.id}, "message_id": carrier.message_id}
    mark = emu.mark()
    emu.press_button(user, ref, data, check=False)
    return await emu.wait_for(lambda s: s.method == "answerCallbackQuery", after=mark)


def effect(
    action: str,
    before: dict[str, list[tuple[object, ...]]],
    after: dict[str, list[tuple[object, ...]]],
) -> bool:
    if action.startswith("/petugas tugaskan") or action.startswith("/petugas tambah"):
        return len(after["staff_changes"]) > len(before["staff_changes"])
    if action.startswith("ad:ok"):
        return before["assignments"] != after["assignments"]
    if action.startswith("ad:x"):
        return before["staff_changes"] != after["staff_changes"]
    if action.startswith(("ad:iv", "ad:rb")):
        return len(after["invites_all"]) > len(before["invites_all"])
    if action.startswith("/jam "):
        return before["hours"] != after["hours"]
    if action.startswith("/jam_khusus 2026"):
        return len(after["hours_overrides"]) > len(before["hours_overrides"])
    if action.startswith("jk:rm"):
        return before["hours_overrides"] != after["hours_overrides"]
    if action.startswith("/jeda"):
        return before["paused_posts"] != after["paused_posts"]
    if action.startswith("/siaran"):
        return len(after["circulars_all"]) > len(before["circulars_all"])
    if action.startswith("/ekspor"):
        return len(after["exports"]) > len(before["exports"])
    return before == after  # usage, a question, a cancelled question: nothing changes


async def settle(emu: FakeBotApi, user: FakeUser) -> None:
    """One person's updates are handled in order: once a later one is answered, the
    action before it has finished (its audit row written after the reply included)."""
    mark = emu.mark()
    emu.send_text(user, "/start -" if user is STRANGER else "/sinkron")
    words = "Kode undangan tidak dikenal" if user is STRANGER else "Perintah tidak dikenal"
    await emu.wait_reply(user.id, after=mark, contains=words, timeout=15)


async def run(
    emu: FakeBotApi, app: PoskoApp, user: FakeUser, action: str, world: World
) -> list[str]:
    """What the user got back (texts of replies and callback answers)."""
    if action.startswith("/"):
        command = {
            "/petugas tambah (new officer)": "/petugas tambah andi KBJ-01 - - Andi Wijaya",
            "/undang budi (registered: asks first)": "/undang budi",
            "/jam_khusus (the list)": "/jam_khusus",
            "/siaran 31.73.01.1001 <text>": "/siaran 31.73.01.1001 Apel pagi",
            "/ekspor laporan csv (own subtree's rows)": "/ekspor laporan csv",
        }.get(action, action)
        mark = emu.mark()
        emu.send_text(user, command)
        sent = await emu.wait_reply(user.id, after=mark)
        await settle(emu, user)
        if sent.method == "sendDocument":  # an export: what it holds is what was shown
            return [b"".join(sent.files.values()).decode("utf-8-sig", "replace")]
        return [sent.text or ""]
    data = {
        "ad:ok": f"ad:ok:{world.change_id}",
        "ad:x:": f"ad:x:{world.other_change_id}",
        "ad:iv": f"ad:iv:{world.newbie_id}",
        "ad:rb": f"ad:rb:{world.budi_id}",
        "ad:no": "ad:no",
        "jk:rm": f"jk:rm:{world.override_id}",
    }[action[:5]]
    answer = await press(emu, app, user, data)
    texts = [str(answer.params.get("text") or "")]
    if user is ADMIN and data.startswith(("ad:ok", "ad:iv", "ad:rb", "jk:rm")):
        texts.append((await emu.wait_reply(user.id, after=answer.index)).text or "")
    return texts


@pytest.mark.parametrize("actor", list(ACTORS))
async def test_admin_commands_and_buttons(
    actor: str, emu: FakeBotApi, db_path: Path, start_bot: AppFactory
) -> None:
    await add_other_camat(db_path)
    user = ACTORS[actor]
    column = list(ACTORS).index(actor)
    async with start_bot() as app:
        world = await build(emu, app)
        problems: list[str] = []
        for action, row in TABLE.items():
            expected = row[column]
            before = await snapshot(app), await extra(app)
            texts = await run(emu, app, user, action, world)
            after = await snapshot(app), await extra(app)
            refusals = [key for key in map(refusal, texts) if key]
            if expected == R:
                changed = diff(before[0], after[0]) + [
                    name for name in EXTRA_SQL if before[1][name] != after[1][name]
                ]
                if not refusals or changed:
                    problems.append(f"{action}: expected a refusal, got {texts} {changed}")
                if any(re.search(r"Budi Santoso|Anggota Baru|KEC-KBJ", t) for t in texts):
                    problems.append(f"{action}: leaked {texts}")
            else:
                if refusals or not effect(action, before[1], after[1]):
                    problems.append(f"{action}: expected it done, got {texts}")
                if actor == "camat_out" and any("KBJ-0" in t or "Kebon Jeruk" in t for t in texts):
                    problems.append(f"{action}: the other kecamatan's rows leaked: {texts}")
        assert not problems, "\n".join(problems)
