"""The durable inbox (SPEC §11): storage functions, and the bot processing each update once
across redeliveries and restarts."""

from __future__ import annotations

import asyncio
import gc
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from bot.core.app import build_application, running
from bot.core.clock import FakeClock
from bot.core.inbox import received
from bot.rehearsal.emulator import FakeBotApi
from storage import inbox
from storage.db import Database, HandledUpdate, handled_update
from tests.conftest import BUDI, MONAS, T0, AppFactory, Phone, make_settings


def _row(update_id: int, chat_id: int | None = 7) -> inbox.Received:
    return inbox.Received(update_id, chat_id, json.dumps({"update_id": update_id}))


async def _open(tmp_path: Path) -> Database:
    db = await Database.open(tmp_path / "inbox.db")
    await db.migrate()
    return db


async def _rows(db: Database) -> list[tuple[Any, ...]]:
    async with db.read() as tx:
        rows = await tx.all("SELECT update_id, state, done_at FROM inbox ORDER BY update_id")
    return [tuple(row) for row in rows]


# --- storage.inbox ----------------------------------------------------------------------------


async def test_store_returns_only_new_updates_and_keeps_the_first_copy(tmp_path: Path) -> None:
    db = await _open(tmp_path)
    async with db.transaction() as tx:
        assert await inbox.store(tx, [_row(3), _row(1), _row(2)], T0) == {1, 2, 3}
    again = inbox.Received(2, 7, '{"changed": true}')
    async with db.transaction() as tx:
        assert await inbox.store(tx, [again, _row(4, None)], T0 + timedelta(hours=1)) == {4}
        payload = await tx.scalar("SELECT payload FROM inbox WHERE update_id = 2")
        chat = await tx.scalar("SELECT chat_id FROM inbox WHERE update_id = 4")
    assert json.loads(payload) == {"update_id": 2} and chat is None
    assert [row[1] for row in await _rows(db)] == ["pending"] * 4
    await db.close()


async def test_store_takes_batches_larger_than_one_statement(tmp_path: Path) -> None:
    db = await _open(tmp_path)
    async with db.transaction() as tx:
        new = await inbox.store(tx, [_row(i) for i in range(1, 251)], T0)
    assert new == set(range(1, 251))
    await db.close()


async def test_claim_pending_in_order_and_mark_done_once(tmp_path: Path) -> None:
    db = await _open(tmp_path)
    async with db.transaction() as tx:
        await inbox.store(tx, [_row(i) for i in (5, 3, 9, 7)], T0)
        assert await inbox.mark_done(tx, 7, T0) is True
        assert await inbox.mark_done(tx, 7, T0) is False
        assert await inbox.mark_done(tx, 42, T0) is False
    async with db.read() as tx:
        assert [p.update_id for p in await inbox.claim_pending(tx)] == [3, 5, 9]
        assert [p.update_id for p in await inbox.claim_pending(tx, after=3, limit=1)] == [5]
        assert await inbox.count_pending(tx) == 3
        assert await inbox.state_of(tx, 7) == "done"
        assert await inbox.state_of(tx, 3) == "pending"
        assert await inbox.state_of(tx, 42) is None
    await db.close()


async def test_prune_deletes_old_done_updates_only(tmp_path: Path) -> None:
    db = await _open(tmp_path)
    async with db.transaction() as tx:
        await inbox.store(tx, [_row(1), _row(2), _row(3)], T0)
        await inbox.store(tx, [_row(4), _row(5)], T0 + timedelta(hours=10))
        for update_id in (1, 3, 4):
            await inbox.mark_done(tx, update_id, T0 + timedelta(hours=11))
    async with db.transaction() as tx:
        assert await inbox.prune(tx, T0 + timedelta(hours=5)) == 2
    assert [(row[0], row[1]) for row in await _rows(db)] == [
        (2, "pending"),
        (4, "done"),
        (5, "pending"),
    ]
    async with db.transaction() as tx:
        assert await inbox.prune(tx, T0 + timedelta(hours=5)) == 0
    await db.close()


async def test_first_write_transaction_of_an_update_marks_it_done(tmp_path: Path) -> None:
    db = await _open(tmp_path)
    async with db.transaction() as tx:
        await inbox.store(tx, [_row(1), _row(2)], T0)
    calls: list[int] = []

    async def record(tx: Any, update_id: int) -> None:
        calls.append(update_id)
        await inbox.mark_done(tx, update_id, T0)

    handled = HandledUpdate(1, record)
    token = handled_update.set(handled)
    try:
        try:
            async with db.transaction() as tx:
                await tx.execute("UPDATE inbox SET chat_id = 99 WHERE update_id = 2")
                raise RuntimeError("the handler failed")
        except RuntimeError:
            pass
        assert not handled.done and await _rows(db) == [(1, "pending", None), (2, "pending", None)]
        async with db.read():
            pass  # a read marks nothing
        async with db.transaction(bookkeeping=True) as tx:
            await tx.execute("UPDATE inbox SET chat_id = 97 WHERE update_id = 2")
        assert not handled.done  # noting the sender's language is not the update's work
        async with db.transaction() as tx:
            await tx.execute("UPDATE inbox SET chat_id = 99 WHERE update_id = 2")
        assert handled.done
        async with db.transaction() as tx:
            await tx.execute("UPDATE inbox SET chat_id = 98 WHERE update_id = 2")
    finally:
        handled_update.reset(token)
    assert calls == [1, 1]  # the rolled-back attempt, then the committed one; not the third
    assert [row[1] for row in await _rows(db)] == ["done", "pending"]
    await db.close()


# --- the bot ----------------------------------------------------------------------------------


async def _signals(db_path: Path, note: str) -> int:
    db = await Database.open(db_path)
    try:
        async with db.read() as tx:
            return int(
                await tx.scalar(
                    "SELECT count(*) FROM signals WHERE kind = 'all_clear' AND note = ?", (note,)
                )
            )
    finally:
        await db.close()


async def _inbox_state(db_path: Path, update_id: int) -> str | None:
    db = await Database.open(db_path)
    try:
        async with db.read() as tx:
            return await inbox.state_of(tx, update_id)
    finally:
        await db.close()


async def test_a_redelivered_update_has_no_second_effect(
    emu: FakeBotApi, db_path: Path, start_bot: AppFactory
) -> None:
    budi = Phone(emu, BUDI)
    async with start_bot():
        await budi.location(*MONAS)
        mark = emu.mark()
        update = emu.send_text(BUDI, "/aman sekali saja")
        reply = await emu.wait_reply(BUDI.id, after=mark)
        assert "Situasi aman" in (reply.text or "")
    assert await _inbox_state(db_path, int(update["update_id"])) == "done"
    # Telegram delivers the same update again to the next process (as when the process
    # that handled it died before its next getUpdates acknowledged it).
    mark = emu.mark()
    emu.send_raw(update)
    async with start_bot() as app:
        status = await budi.send("/status")
        assert "KBJ-01" in (status.text or "")
        assert app.bot_data["inbox"].redelivered == 1
    answers = [rec for rec in emu.sent_to(BUDI.id, "sendMessage") if rec.index >= mark]
    assert answers == [status]
    assert await _signals(db_path, "sekali saja") == 1


async def test_a_polled_update_is_stored_as_telegram_sent_it(
    emu: FakeBotApi, db_path: Path, start_bot: AppFactory
) -> None:
    async with start_bot():
        mark = emu.mark()
        update = emu.send_text(BUDI, "/aman  dua  spasi ")
        await emu.wait_reply(BUDI.id, after=mark)
    db = await Database.open(db_path)
    try:
        async with db.read() as tx:
            payload = await tx.scalar(
                "SELECT payload FROM inbox WHERE update_id = ?", (update["update_id"],)
            )
    finally:
        await db.close()
    assert json.loads(payload) == update  # the JSON as served, not PTB's rewriting of it


async def test_pending_updates_survive_a_restart_and_run_once_in_order(
    emu: FakeBotApi, db_path: Path, start_bot: AppFactory
) -> None:
    """The state a crash leaves: updates stored, neither handled nor acknowledged, so the
    next process finds them in the inbox and Telegram delivers them again."""
    async with start_bot():
        await Phone(emu, BUDI).location(*MONAS)
    mark = emu.mark()
    first = emu.send_text(BUDI, "/aman satu")
    second = emu.send_text(BUDI, "/aman dua")
    db = await Database.open(db_path)
    async with db.transaction() as tx:
        stored = [Update.de_json(u, None) for u in (first, second)]
        await inbox.store(tx, [received(u) for u in stored], T0)
    await db.close()
    async with start_bot() as app:
        replies = [
            await emu.wait_reply(BUDI.id, after=mark),
        ]
        replies.append(await emu.wait_reply(BUDI.id, after=replies[0].index + 1))
        status = await Phone(emu, BUDI).send("/status")
        assert app.bot_data["inbox"].replayed == 2
        assert app.bot_data["inbox"].redelivered == 2
    assert all("Situasi aman" in (r.text or "") for r in replies)
    answers = [rec for rec in emu.sent_to(BUDI.id, "sendMessage") if rec.index >= mark]
    assert answers == [*replies, status]
    assert await _signals(db_path, "satu") == 1 and await _signals(db_path, "dua") == 1
    db = await Database.open(db_path)
    async with db.read() as tx:
        notes = await tx.all(
            "SELECT note FROM signals WHERE kind = 'all_clear' ORDER BY id DESC LIMIT 2"
        )
        assert await inbox.count_pending(tx) == 0
    await db.close()
    assert [row[0] for row in notes] == ["dua", "satu"]


async def test_webhook_update_is_stored_and_done_once(
    emu: FakeBotApi, db_path: Path, start_bot: AppFactory
) -> None:
    from tests.test_operations import free_port

    port = free_port()
    webhook = {
        "mode": "webhook",
        "listen": "127.0.0.1",
        "port": port,
        "url": f"http://127.0.0.1:{port}/hook",
        "secret_token": "inbox-test-secret-token",
        "token": emu.token,
        "base_url": emu.base_url,
        "bot_username": emu.bot_username,
    }
    async with start_bot(telegram=webhook):
        budi = Phone(emu, BUDI)
        await budi.location(*MONAS)
        mark = emu.mark()
        update = emu.send_text(BUDI, "/aman lewat webhook")
        reply = await emu.wait_reply(BUDI.id, after=mark)
        assert "Situasi aman" in (reply.text or "")
        emu.send_raw(update)
        status = await budi.send("/status")
        answers = [rec for rec in emu.sent_to(BUDI.id, "sendMessage") if rec.index >= mark]
        assert answers == [reply, status]
    assert await _inbox_state(db_path, int(update["update_id"])) == "done"
    assert await _signals(db_path, "lewat webhook") == 1


async def test_without_the_inbox_nothing_is_stored(
    emu: FakeBotApi, db_path: Path, start_bot: AppFactory
) -> None:
    telegram = {
        "token": emu.token,
        "base_url": emu.base_url,
        "bot_username": emu.bot_username,
        "inbox": False,
    }
    async with start_bot(telegram=telegram):
        reply = await Phone(emu, BUDI).send("/status")
        assert "KBJ-01" in (reply.text or "")
    db = await Database.open(db_path)
    async with db.read() as tx:
        assert await tx.scalar("SELECT count(*) FROM inbox") == 0
    await db.close()


async def test_the_long_running_bot_puts_its_start_up_out_of_the_collectors_sight(
    emu: FakeBotApi, db_path: Path
) -> None:
    app = build_application(make_settings(emu, db_path), FakeClock(T0))
    async with running(app, poll_timeout=timedelta(seconds=1), freeze_startup=True):
        assert gc.get_freeze_count() > 10_000  # PTB, the handlers, the catalogs
        status = await Phone(emu, BUDI).send("/status")
        assert status.text
    assert gc.get_freeze_count() == 0  # given back on exit


@pytest.mark.both_backends
async def test_the_inbox_store_never_waits_behind_the_writers_queued_for_their_turn(
    migrated_db: Path | str,
) -> None:
    db = await Database.open(migrated_db)
    try:
        # the lock held as by writers queued for their turn, none with a transaction open
        async with db.lock, asyncio.timeout(5), db.standalone(durable=True) as tx:
            assert await inbox.store(tx, [_row(7)], T0) == {7}
        assert await _rows(db) == [(7, "pending", None)]
    finally:
        await db.close()
