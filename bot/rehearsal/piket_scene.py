"""The demo's piket scene (issue 11, SPEC §9): slots begin a few seconds from now at two
posts. Wati is reminded and comes on time; Dodi is reminded, does not come, is nudged,
and the camat's unstaffed alert names him with his phone, until he arrives and the post
recovers. Then Wati offers tomorrow's slot to Rina with /tukar, and Rina accepts.

Played by :mod:`bot.rehearsal.demo` with second-scale settings (``DEMO_ROSTER``), so
the slots are written directly (:mod:`bot.roster.planning`, as an import writes them)
with start times in seconds rather than from a ``roster.csv`` of whole minutes.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

from bot.core.clock import WIB
from bot.core.config import RosterSettings
from bot.roster.planning import RosterPlan, write
from bot.roster.slots import PlannedSlot
from storage import members, posts
from storage.db import Database

if TYPE_CHECKING:
    from bot.rehearsal.demo import Stage, Transcript

DEMO_ROSTER = {"remind_before": "5s", "late_after": "4s"}
LEAD = timedelta(seconds=7)  # the slots begin this long after the scene starts
EVENTS = ("piket_reminded", "piket_nudged", "piket_absent_named", "piket_swapped")


async def write_slots(database: Database, settings: RosterSettings) -> datetime:
    """Agus (already in) and Dodi at PLM-01 and Wati at PLM-02 from a few seconds from now
    for an hour, and Wati again tomorrow 08:00-16:00 WIB; returns when the slots begin."""
    now = datetime.now(UTC)
    start = now + LEAD
    tomorrow = datetime.combine(start.astimezone(WIB).date() + timedelta(days=1), time(8), WIB)
    async with database.transaction() as tx:
        post_ids: dict[str, int] = {}
        for code in ("PLM-01", "PLM-02"):
            post = await posts.by_code(tx, code)
            assert post is not None, code
            post_ids[code] = post.id
        people: dict[str, int] = {}
        for ref in ("agus", "dodi", "wati"):
            member = await members.by_ref(tx, ref)
            assert member is not None, ref
            people[ref] = member.id
        hour = start + timedelta(hours=1)
        slots = [
            PlannedSlot(post_ids["PLM-01"], people["agus"], start, hour),
            PlannedSlot(post_ids["PLM-01"], people["dodi"], start, hour),
            PlannedSlot(post_ids["PLM-02"], people["wati"], start, hour),
            PlannedSlot(
                post_ids["PLM-02"],
                people["wati"],
                tomorrow.astimezone(UTC),
                (tomorrow + timedelta(hours=8)).astimezone(UTC),
            ),
        ]
        await write(tx, RosterPlan(list(post_ids.values()), [], slots, set()), now, settings)
    return start


async def piket_scene(
    stage: Stage, transcript: Transcript, database: Database, settings: RosterSettings
) -> dict[str, bool]:
    """Play the scene; returns which of :data:`EVENTS` were seen."""
    emu = stage.emu
    mark = emu.mark()
    transcript.note("Jadwal piket malam ini: Agus dan Dodi di PLM-01, Wati di PLM-02.")
    await write_slots(database, settings)
    reminded = await stage.wait_for_text("wati", "Pengingat piket", after=mark)
    await stage.wait_for_text("dodi", "Pengingat piket", after=mark)
    transcript.note("Wati datang tepat waktu; Dodi belum tiba.")
    await stage.text("wati", "/hadir")
    await stage.location("wati")
    nudged = await stage.wait_for_text("dodi", "belum tercatat hadir", after=mark)
    alert = await stage.wait_for_text("camat_plm", "Piket belum hadir", after=mark)
    named = "Dodi" in (alert.text or "") and "0812" in (alert.text or "")
    transcript.note("Dodi akhirnya tiba di posko; PLM-01 pulih.")
    await stage.text("dodi", "/hadir")
    await stage.location("dodi")
    await stage.wait_for_text("camat_plm", "pulih", after=mark)

    transcript.note("Wati berhalangan besok: ia menawarkan piketnya kepada Rina.")
    async with stage.busy("rina"):
        menu = await stage.text("wati", "/tukar")
        await stage.press("wati", menu, "PLM-02")
        picked = await stage.wait_for_text("wati", "Pilih rekan", after=mark)
        await stage.press("wati", picked, "Rina")
        request = await stage.wait_for_text("rina", "Permintaan tukar piket", after=mark)
        await stage.press("rina", request, "Terima")
        done = await stage.wait_for_text("wati", "kini dipegang Rina", after=mark)
    return {
        "piket_reminded": bool(reminded.text),
        "piket_nudged": bool(nudged.text),
        "piket_absent_named": named,
        "piket_swapped": bool(done.text),
    }
