"""Who may do what, for partner agencies' liaisons (issue 10, SPEC §8), end to end through
the fake Bot API.

A liaison sees only the reports forwarded to their agency within their scope: no posts,
presence, roster, recaps or other reports. Three liaisons try every command:

* ``liaison_in``    Bawaslu's liaison of the kecamatan Kebon Jeruk (KBJ-01 is in scope);
* ``liaison_out``   Bawaslu's liaison of the kecamatan Kembangan (KBJ-01 is not);
* ``liaison_other`` Polri's liaison of the kecamatan Kebon Jeruk (another agency).

"refused" means the liaison's one polite catalog sentence and no state change at all
(the snapshot of tests/test_authorization_matrix.py), and nothing of any post or report
in what they got back.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.clock import FakeClock
from bot.core.i18n import catalog
from bot.rehearsal.emulator import FakeBotApi, FakeUser
from bot.reports import disposisi
from storage import members
from tests.agencies_seed import (
    CAMAT_OTHER,
    LIAISON_IN,
    LIAISON_KOTA,
    LIAISON_OTHER,
    LIAISON_OUT,
    seed_agencies,
)
from tests.conftest import ADMIN, BUDI, LURAH, SARI, STRANGER, AppFactory, Phone
from tests.test_authorization_matrix import diff, runtime_of, snapshot

LIAISONS: dict[str, FakeUser] = {
    "liaison_in": LIAISON_IN,
    "liaison_out": LIAISON_OUT,
    "liaison_other": LIAISON_OTHER,
}

# Every command of officers, supervisors and admins (Indonesian names and some English
# aliases), with the arguments they take.
REFUSED_COMMANDS = (
    "/hadir",
    "/checkin",
    "/pulang",
    "/aman",
    "/lapor keamanan ada keributan di TPS 12",
    "/darurat kebakaran di TPS 12",
    "/laporanku",
    "/status",
    "/pantau",
    "/monitor",
    "/pantau KBJ-01",
    "/laporan",
    "/laporan baru",
    "/issues",
    "/rekap",
    "/peta",
    "/siaran semua Rapat pukul 20.00",
    "/siaran_status",
    "/jadwal",
    "/jadwal_tambah 2026-11-25 08:00 semua Apel pagi",
    "/jadwal_hapus 1",
    "/undang newbie",
    "/petugas tambah andi KBJ-01 Andi",
    "/jeda KBJ-01 30m",
    "/jam KBJ-01 24h",
    "/jam_khusus",
    "/grup 31.73.01.1001",
    "/ekspor laporan csv",
)
# Words of the city's own business a liaison must never read here.
SECRETS = ("KBJ-01", "KBJ-02", "Budi", "Sari", "Kebon Jeruk", "TPS 12", "petugas:")


@pytest.fixture
async def agencies_db(db_path: Path) -> Path:
    await seed_agencies(db_path)
    return db_path


@pytest.mark.parametrize("actor", list(LIAISONS))
@pytest.mark.usefixtures("agencies_db")
async def test_a_liaison_is_refused_every_city_command(
    actor: str, emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock
) -> None:
    refusal = catalog("id")["agencies.liaison_only"]
    user = LIAISONS[actor]
    async with start_bot() as app:
        # something to see, should anyone be shown it: a report on KBJ-01
        await Phone(emu, BUDI).send("/lapor keamanan ada keributan di TPS 12")
        failures: list[str] = []
        for command in REFUSED_COMMANDS:
            before = await snapshot(app)
            reply = await Phone(emu, user).send(command)
            text = reply.text or ""
            if text != refusal:
                failures.append(f"{command}: got {text[:80]!r}")
            if leaked := [word for word in SECRETS if word in text]:
                failures.append(f"{command}: shows {leaked}")
            if changed := diff(before, await snapshot(app)):
                failures.append(f"{command}: changed {changed}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("actor", list(LIAISONS))
@pytest.mark.usefixtures("agencies_db", "bot")
async def test_a_liaison_has_only_their_own_commands_in_help_and_menu(
    actor: str, emu: FakeBotApi
) -> None:
    user = LIAISONS[actor]
    help_text = (await Phone(emu, user).send("/bantuan")).text or ""
    commands = {word for word in help_text.split() if word.startswith("/")}
    assert commands == {"/disposisi", "/dasbor", "/bantuan", "/batal"}
    menu = await emu.wait_for(
        lambda s: (
            s.method == "setMyCommands" and s.params.get("scope", {}).get("chat_id") == user.id
        )
    )
    shown = [c["command"] for c in menu.params["commands"]]
    assert shown == ["disposisi", "dasbor", "bantuan", "batal"]
    cancel = (await Phone(emu, user).send("/batal")).text or ""
    assert cancel != catalog("id")["agencies.liaison_only"] and cancel


@pytest.mark.usefixtures("agencies_db", "bot")
async def test_an_admin_invites_a_liaison_who_joins_as_penghubung(emu: FakeBotApi) -> None:
    admin = Phone(emu, ADMIN)
    created = (await admin.send("/undang bws-new")).text or ""
    code = next(
        line.split(":", 1)[1].strip()
        for line in created.splitlines()
        if line.startswith(("Kode:", "Code:"))
    )
    newcomer = FakeUser(5009, "Nina")
    joined = (await Phone(emu, newcomer).send(f"/start {code}")).text or ""
    assert "Nina Bawaslu Baru" in joined and "Peran: penghubung." in joined
    menu = await emu.wait_for(
        lambda s: (
            s.method == "setMyCommands" and s.params.get("scope", {}).get("chat_id") == newcomer.id
        )
    )
    shown = [c["command"] for c in menu.params["commands"]]
    assert shown == ["disposisi", "dasbor", "bantuan", "batal"]
    refused = (await Phone(emu, newcomer).send("/pantau")).text or ""
    assert refused == catalog("id")["agencies.liaison_only"]


# ---------------------------------------------------------------------------------------------
# The disposisi buttons, pressed by everyone (forged from a tampered client where the actor
# never received the button): ➡️ Teruskan and its agency / no-note steps belong to
# supervisors in scope and admins; a liaison's steps to the agency's liaisons in scope.
# ---------------------------------------------------------------------------------------------

A, R = "allowed", "refused"
#                    actor                    forward (fw:s, fw:n)   liaison step (fw:x ok)
BUTTONS: dict[str, tuple[FakeUser, str, str]] = {
    "stranger": (STRANGER, R, R),
    "officer": (SARI, R, R),
    "supervisor_in": (LURAH, A, R),
    "supervisor_out": (CAMAT_OTHER, R, R),
    "admin": (ADMIN, A, R),
    "liaison_in": (LIAISON_IN, R, A),
    "liaison_kota": (LIAISON_KOTA, R, A),
    "liaison_out": (LIAISON_OUT, R, R),
    "liaison_other": (LIAISON_OTHER, R, R),
}
REFUSAL_TEXTS = {
    catalog("id")["common.unknown_user"],
    catalog("id")["disposisi.not_allowed"],
}


async def _forwards(app: Any) -> list[tuple[Any, ...]]:
    async with runtime_of(app).database.read() as tx:
        return [tuple(r) for r in await tx.all("SELECT id, agency_id, state FROM forwards")]


async def _ids(app: Any) -> tuple[int, int]:
    async with runtime_of(app).database.read() as tx:
        issue_id = await tx.scalar("SELECT id FROM issues")
        bawaslu = await tx.scalar("SELECT id FROM agencies WHERE code = 'bawaslu'")
    return int(issue_id), int(bawaslu)


async def _pressed(emu: FakeBotApi, user: FakeUser, message: Any, data: str) -> str:
    answer = await Phone(emu, user).press(message, data, forge=True)
    return str(answer.params.get("text") or "")


@pytest.mark.parametrize("actor", list(BUTTONS))
@pytest.mark.usefixtures("agencies_db")
async def test_disposisi_buttons_by_actor(
    actor: str, emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock
) -> None:
    user, forward_rule, step_rule = BUTTONS[actor]
    async with start_bot() as app:
        await Phone(emu, BUDI).send("/lapor politik_uang Ada bagi-bagi amplop di TPS 12")
        issue_id, bawaslu = await _ids(app)
        own = await Phone(emu, user).send("/bantuan")  # a message to press buttons on

        # ➡️ Teruskan
        before = await snapshot(app)
        mark = emu.mark()
        text = await _pressed(emu, user, own, f"fw:s:{issue_id}")
        if forward_rule == A:
            picker = await emu.wait_reply(user.id, after=mark, contains="Teruskan laporan")
            assert ("⭐ Bawaslu Jakarta Barat", f"fw:a:{issue_id}:{bawaslu}") in emu.inline_buttons(
                picker
            )
        else:
            assert text in REFUSAL_TEXTS, text
            assert diff(before, await snapshot(app)) == []
            later = [s for s in emu.sent_to(user.id) if s.index >= mark]
            assert not [s for s in later if "KBJ-01" in (s.text or "")]
        # the agency, then "Tanpa catatan"
        before = await snapshot(app)
        text = await _pressed(emu, user, own, f"fw:a:{issue_id}:{bawaslu}")
        if forward_rule == R:
            assert text in REFUSAL_TEXTS, text
            assert diff(before, await snapshot(app)) == []
        text = await _pressed(emu, user, own, f"fw:n:{issue_id}:{bawaslu}")
        if forward_rule == A:
            assert [(a, s) for _, a, s in await _forwards(app)] == [(bawaslu, "dikirim")]
        else:
            assert text in REFUSAL_TEXTS, text
            assert await _forwards(app) == []
            # forwarded by the lurah, for the liaison's step below
            runtime = runtime_of(app)
            async with runtime.database.read() as tx:
                lurah = await members.by_ref(tx, "lurah")
            assert lurah is not None
            await disposisi.send(
                runtime.database, lurah, issue_id, bawaslu, None, clock.now(), timedelta(hours=1)
            )

        # ✅ Terima on the forward
        ((forward_id, _, _),) = await _forwards(app)
        before = await snapshot(app)
        text = await _pressed(emu, user, own, f"fw:x:{forward_id}:ok")
        if step_rule == A:
            assert [s for _, _, s in await _forwards(app)] == ["diterima"]
        else:
            assert text in REFUSAL_TEXTS, text
            assert [s for _, _, s in await _forwards(app)] == ["dikirim"]
            assert diff(before, await snapshot(app)) == []
        # ↩️ Kembalikan asks for a note only of the allowed
        text = await _pressed(emu, user, own, f"fw:x:{forward_id}:rt")
        if step_rule == R:
            assert text in REFUSAL_TEXTS, text
            assert diff(before, await snapshot(app)) == []


# /disposisi: a liaison's list of what was forwarded to their agency within their scope.
#            actor: (user, expected) where "shows" lists the forward, "empty" answers that
#            nothing was forwarded there, R refuses.
LIST_RULES: dict[str, tuple[FakeUser, str]] = {
    "stranger": (STRANGER, R),
    "officer": (SARI, R),
    "supervisor_in": (LURAH, R),
    "admin": (ADMIN, R),
    "liaison_in": (LIAISON_IN, "shows"),
    "liaison_kota": (LIAISON_KOTA, "shows"),
    "liaison_out": (LIAISON_OUT, "empty"),
    "liaison_other": (LIAISON_OTHER, "empty"),
}


@pytest.mark.parametrize("actor", list(LIST_RULES))
@pytest.mark.usefixtures("agencies_db")
async def test_disposisi_list_by_actor(
    actor: str, emu: FakeBotApi, start_bot: AppFactory, clock: FakeClock
) -> None:
    user, rule = LIST_RULES[actor]
    async with start_bot() as app:
        await Phone(emu, BUDI).send("/lapor politik_uang Ada bagi-bagi amplop di TPS 12")
        issue_id, bawaslu = await _ids(app)
        runtime = runtime_of(app)
        async with runtime.database.read() as tx:
            lurah = await members.by_ref(tx, "lurah")
            (ref,) = [r[0] for r in await tx.all("SELECT ref FROM issues")]
        assert lurah is not None
        await disposisi.send(
            runtime.database, lurah, issue_id, bawaslu, "Mohon dicek", clock.now(), timedelta(1)
        )
        ((forward_id, _, _),) = await _forwards(app)
        before = await snapshot(app)
        mark = emu.mark()
        emu.send_text(user, "/disposisi")
        words = {R: "Maaf", "empty": "Belum ada laporan", "shows": "terakhir"}[rule]
        first = await emu.wait_reply(user.id, after=mark, contains=words)
        if rule == R:
            assert first.text in {
                catalog("id")["common.unknown_user"],
                catalog("id")["disposisi.only_liaisons"],
            }, first.text
        elif rule == "empty":
            assert first.text == catalog("id")["disposisi.list_empty"].format(
                agency="Bawaslu Jakarta Barat"
                if user is LIAISON_OUT
                else "Polres Metro Jakarta Barat"
            )
        else:
            assert "Disposisi untuk Bawaslu Jakarta Barat: 1" in (first.text or "")
            card = await emu.wait_reply(user.id, after=first.index + 1, contains=ref)
            assert "Mohon dicek" in (card.text or "")
            assert emu.inline_buttons(card) == [
                ("✅ Terima", f"fw:x:{forward_id}:ok"),
                ("↩️ Kembalikan", f"fw:x:{forward_id}:rt"),
            ]
        if rule != "shows" and user is not LURAH:  # the lurah had the report announced
            await asyncio.sleep(0.2)  # anything more the bot might send
            later = [x for x in emu.sent_to(user.id) if x.index >= mark]
            assert not [x for x in later if ref in (x.text or "") or "amplop" in (x.text or "")]
        assert diff(before, await snapshot(app)) == []
