"""Who may open the command room's doors with /dasbor (SPEC §10), end to end through the
fake Bot API: supervisors, admins and liaisons get a login link (and the Mini App button
under https); only supervisors and admins get wall links and revoke them; officers,
strangers and groups get a short refusal and no link; with [web] off, a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.rehearsal.emulator import FakeBotApi, FakeUser
from bot.rehearsal.emulator.records import inline_keyboard
from tests.agencies_seed import LIAISON_IN, seed_agencies
from tests.conftest import ADMIN, BUDI, CAMAT, LURAH, STRANGER, AppFactory, Phone
from tests.web_helpers import LINK, WEB, browser

PUBLIC = {**WEB, "public_url": "https://posko.example.go.id"}


def link_in(text: str | None) -> str | None:
    found = LINK.search(text or "")
    return None if found is None else found.group(0)


@pytest.mark.parametrize(
    ("user", "word", "expected"),
    [
        (LURAH, "", "login"),
        (CAMAT, "", "login"),
        (ADMIN, "", "login"),
        (LURAH, "layar", "wall"),
        (ADMIN, "wall", "wall"),
        (BUDI, "", "Maaf, dasbor hanya untuk pengawas"),
        (BUDI, "layar", "Maaf, dasbor hanya untuk pengawas"),
        (BUDI, "cabut", "Maaf, dasbor hanya untuk pengawas"),
        (STRANGER, "", "belum terdaftar"),
        (LURAH, "xyz", "Format: /dasbor"),
        (LURAH, "x" * 5000, "Format: /dasbor"),
    ],
)
async def test_who_gets_which_link(
    user: FakeUser, word: str, expected: str, emu: FakeBotApi, start_bot: AppFactory
) -> None:
    async with start_bot(web=PUBLIC):
        reply = await Phone(emu, user).send(f"/dasbor {word}".strip())
        link = link_in(reply.text)
        if expected in ("login", "wall"):
            assert link is not None and f"/{'login' if expected == 'login' else 'layar'}/" in link
            assert link.startswith("https://posko.example.go.id/")
            # a link preview would fetch (and use up) the link
            assert reply.params["link_preview_options"] == {"is_disabled": True}
            buttons = [button for row in inline_keyboard(reply) for button in row]
            if expected == "login":
                assert buttons == [
                    {"text": "🗺️ Buka dasbor", "web_app": {"url": "https://posko.example.go.id"}}
                ]
            else:
                assert buttons == []
        else:
            assert link is None
            assert expected in (reply.text or ""), reply.text


async def test_liaison_gets_a_login_link_but_no_wall(
    emu: FakeBotApi, start_bot: AppFactory, db_path: Path
) -> None:
    await seed_agencies(db_path)
    async with start_bot(web=WEB):
        liaison = Phone(emu, LIAISON_IN)
        assert link_in((await liaison.send("/dasbor")).text) is not None
        for word in ("layar", "cabut"):
            refused = await liaison.send(f"/dasbor {word}")
            assert link_in(refused.text) is None
            assert "tautan layar hanya untuk pengawas" in (refused.text or "")


async def test_group_and_web_off(emu: FakeBotApi, start_bot: AppFactory) -> None:
    async with start_bot():
        off = await Phone(emu, LURAH).send("/dasbor")
        assert "belum diaktifkan" in (off.text or "") and link_in(off.text) is None
    async with start_bot(web=WEB):
        group = -100555
        mark = emu.mark()
        emu.send_text(LURAH, "/dasbor", chat_id=group, chat_type="supergroup")
        reply = await emu.wait_reply(group, after=mark)
        assert link_in(reply.text) is None and "chat pribadi" in (reply.text or "")


async def test_revoking_wall_links_own_and_all(emu: FakeBotApi, start_bot: AppFactory) -> None:
    async with start_bot(web=WEB) as app:
        lurah_wall = link_in((await Phone(emu, LURAH).send("/dasbor layar")).text)
        camat_wall = link_in((await Phone(emu, CAMAT).send("/dasbor layar")).text)
        assert lurah_wall is not None and camat_wall is not None
        revoked = await Phone(emu, LURAH).send("/dasbor cabut")
        assert "1 tautan layar dicabut" in (revoked.text or "")
        screen = browser(app)
        try:
            assert (await screen.login(lurah_wall)).status == 403
            assert (await screen.login(camat_wall)).status == 303  # the camat's still works
            nothing = await Phone(emu, LURAH).send("/dasbor cabut")
            assert "Tidak ada tautan layar" in (nothing.text or "")
            everyone = await Phone(emu, ADMIN).send("/dasbor revoke")
            assert "1 tautan layar dicabut" in (everyone.text or "")
            assert (await screen.get("/api/me")).status == 401
        finally:
            await screen.close()
