"""The status rules of issue 9, fast, with an injected clock: the desk's moves (resolve from
diterima, reopen), the /laporan filters, the officer's corrections and drafts in slots."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from bot.core.clock import FakeClock
from bot.reports import corrections, desk, filing
from bot.reports.corrections import Fix
from storage import drafts, issues, members
from storage.db import Database
from storage.records import Member
from tests.conftest import T0, seed_city

CATEGORIES = ["keamanan", "logistik", "apk", "lainnya"]


def test_moves_from_each_status() -> None:
    assert desk.next_actions("baru") == ["accept", "reject"]
    assert desk.next_actions("diterima") == ["start", "resolve", "reject"]
    assert desk.next_actions("ditangani") == ["resolve", "reject"]
    assert desk.next_actions("selesai") == ["reopen"]
    assert desk.next_actions("ditolak") == ["reopen"]
    assert desk.next_actions("ditarik") == []  # withdrawn by its reporter: nothing to do


def test_reopen_goes_back_to_where_work_resumes() -> None:
    reopen = desk.MOVES[desk.REOPEN]
    assert reopen.needs_note
    assert desk.target_of(reopen, "selesai") == "ditangani"
    assert desk.target_of(reopen, "ditolak") == "diterima"
    assert desk.target_of(desk.MOVES[desk.RESOLVE], "diterima") == "selesai"


def test_laporan_filters() -> None:
    assert desk.parse_filter("") == desk.Filter("open", desk.OPEN_STATUSES)
    assert desk.parse_filter("semua") == desk.Filter("all", ("baru", "diterima", "ditangani",
                                                           "selesai", "ditolak"))  # fmt: skip
    assert desk.parse_filter("Selesai") == desk.Filter("selesai", ("selesai",))
    assert desk.parse_filter("DARURAT") == desk.Filter(
        "darurat", desk.OPEN_STATUSES, severity="darurat"
    )
    assert desk.parse_filter("kbj-01") == desk.Filter(
        "KBJ-01", desk.OPEN_STATUSES, post_code="KBJ-01"
    )
    assert desk.parse_filter("kemarin") is None  # a word, not a post code
    assert desk.parse_filter("darurat kbj-01") is None
    assert desk.parse_filter("x" * 200 + "-1") is None


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    await seed_city(tmp_path / "r.db")
    database = await Database.open(tmp_path / "r.db")
    yield database
    await database.close()


async def who(db: Database, ref: str) -> Member:
    async with db.read() as tx:
        found = await members.by_ref(tx, ref)
    assert found is not None
    return found


async def test_corrections_only_by_the_reporter_while_new(db: Database) -> None:
    clock = FakeClock(T0)
    budi, sari, lurah = await who(db, "budi"), await who(db, "sari"), await who(db, "lurah")
    filed = await filing.one_shot(db, budi, "logistik", "kotak kurang", 500, clock.now())
    assert filed.issue is not None
    issue_id = filed.issue.id

    other = await corrections.correct(db, sari, issue_id, "severity", "tinggi", CATEGORIES, T0)
    assert other.verdict is Fix.NOT_YOURS
    bad = await corrections.correct(db, budi, issue_id, "severity", "nuklir", CATEGORIES, T0)
    assert bad.verdict is Fix.BAD_CHOICE
    bad_field = await corrections.correct(db, budi, issue_id, "text", "x", CATEGORIES, T0)
    assert bad_field.verdict is Fix.BAD_CHOICE
    same = await corrections.correct(db, budi, issue_id, "category", "logistik", CATEGORIES, T0)
    assert same.verdict is Fix.SAME

    clock.advance(timedelta(minutes=3))
    done = await corrections.correct(
        db, budi, issue_id, "severity", "tinggi", CATEGORIES, clock.now()
    )
    assert done.verdict is Fix.DONE and done.old == "sedang"
    assert done.card is not None and done.card.issue.severity == "tinggi"

    asked = await corrections.ask_note(db, budi, issue_id, clock.now())
    assert asked.verdict is Fix.NEEDS_NOTE
    too_long = await corrections.give_note(db, budi, "x" * 501, clock.now())
    assert too_long is not None and too_long.verdict is Fix.TOO_LONG
    noted = await corrections.give_note(db, budi, "sudah tiga jam", clock.now())
    assert noted is not None and noted.verdict is Fix.DONE
    assert await corrections.give_note(db, budi, "lagi", clock.now()) is None  # none awaited

    accepted = await desk.press(db, lurah, issue_id, "accept", clock.now())
    assert accepted.verdict is desk.Verdict.DONE
    late = await corrections.correct(db, budi, issue_id, "severity", "rendah", CATEGORIES, T0)
    assert late.verdict is Fix.NOT_NEW
    assert (await corrections.withdraw(db, budi, issue_id, T0)).verdict is Fix.NOT_NEW

    async with db.read() as tx:
        history = await issues.events(tx, issue_id)
    assert [(e.kind, e.actor_name) for e in history] == [
        ("created", "Budi Santoso"),
        ("corrected", "Budi Santoso"),
        ("note", "Budi Santoso"),
        ("status", "Lurah Kebon Jeruk"),
    ]
    assert history[1].note == "severity:sedang:tinggi"
    assert history[1].at == T0 + timedelta(minutes=3)


async def test_made_darurat_goes_one_level_up_at_once(db: Database) -> None:
    budi = await who(db, "budi")
    filed = await filing.one_shot(db, budi, "keamanan", "massa berkumpul", 500, T0)
    assert filed.issue is not None
    done = await corrections.correct(
        db, budi, filed.issue.id, "severity", "darurat", CATEGORIES, T0
    )
    assert done.verdict is Fix.DONE
    async with db.read() as tx:
        rows = await tx.all(
            "SELECT chat_id, kind, priority FROM outbox WHERE ref_type = 'issue' ORDER BY id"
        )
    sent = [tuple(row) for row in rows]
    assert (2001, "issue_new", 5) in sent  # the lurah, when it was filed
    assert (2002, "issue_new", 0) in sent  # the camat, at once, as an alert
    assert (2001, "issue_fix", 5) in sent  # the lurah hears of the correction


async def test_withdrawn_is_closed_and_allows_no_move(db: Database) -> None:
    clock = FakeClock(T0)
    budi, lurah = await who(db, "budi"), await who(db, "lurah")
    filed = await filing.one_shot(db, budi, "keamanan", "ribut", 500, clock.now())
    assert filed.issue is not None
    issue_id = filed.issue.id
    assert (await corrections.withdraw(db, budi, issue_id, clock.now())).verdict is Fix.DONE
    again = await corrections.withdraw(db, budi, issue_id, clock.now())
    assert again.verdict is Fix.NOT_NEW
    assert again.card is not None and again.card.issue.status == "ditarik"
    pressed = await desk.press(db, lurah, issue_id, "reject", clock.now())
    assert pressed.verdict is desk.Verdict.MOVED
    reopened = await desk.press(db, lurah, issue_id, "reopen", clock.now())
    assert reopened.verdict is desk.Verdict.MOVED
    async with db.read() as tx:
        assert await issues.open_count_for_post(tx, filed.issue.post_id) == 0
        assert await tx.scalar("SELECT status FROM issues") == "ditolak"


async def test_report_draft_and_check_in_choice_have_their_own_slots(db: Database) -> None:
    budi = await who(db, "budi")
    async with db.transaction() as tx:
        await drafts.put(tx, budi.id, "report", "text", {"text": "a"}, T0)
        await drafts.put(tx, budi.id, "checkin", "choose", {"lat": 1}, T0, drafts.CHECKIN)
    async with db.transaction() as tx:
        report = await drafts.get(tx, budi.id)
        choice = await drafts.get(tx, budi.id, drafts.CHECKIN)
        assert report is not None and report.data == {"text": "a"}
        assert choice is not None and choice.data == {"lat": 1}
        assert await drafts.delete(tx, budi.id, drafts.CHECKIN)
        assert await drafts.get(tx, budi.id) is not None


async def test_album_counts_and_refuses_once(db: Database) -> None:
    budi = await who(db, "budi")
    started = await filing.start(db, budi, T0)
    assert started.draft is not None
    await filing.choose_category(db, budi, "logistik", CATEGORIES, T0)
    await filing.choose_severity(db, budi, "sedang", T0)
    await filing.give_text(db, budi, "kotak kurang", 500, T0)
    first = await filing.add_media(
        db, budi, filing.Media("p1", filing.PHOTO, "sudut A", "g1"), 2, 500, T0
    )
    assert first.new_photo and first.caption_added and first.album_reply is None
    await filing.remember_album_reply(db, budi, "g1", 77, T0)
    second = await filing.add_media(
        db, budi, filing.Media("p2", filing.VIDEO, None, "g1"), 2, 500, T0
    )
    assert not second.new_photo and second.album_reply == 77
    third = await filing.add_media(
        db, budi, filing.Media("p3", filing.PHOTO, None, "g1"), 2, 500, T0
    )
    assert third.problem is filing.Problem.TOO_MANY_PHOTOS and not third.quiet
    fourth = await filing.add_media(
        db, budi, filing.Media("p4", filing.PHOTO, None, "g1"), 2, 500, T0
    )
    assert fourth.problem is filing.Problem.TOO_MANY_PHOTOS and fourth.quiet
    draft = await filing.current(db, budi)
    assert draft is not None
    assert draft.photos == ["p1", "p2"] and draft.kinds == ["photo", "video"]
    assert draft.text == "kotak kurang\nsudut A"
