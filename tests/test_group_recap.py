"""The daily recap for bound groups (issue 10): once per group per WIB day, for the group's
whole subtree, with an injected clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.insight.group_recap import GROUP_RECAP_KIND, queue_daily_groups
from storage import areas
from storage.db import Database
from tests.conftest import T0, seed_city
from tests.test_recap import at, settings

KEC_GROUP = -100_700
KEL_GROUP = -100_701


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    path = tmp_path / "posko.db"
    await seed_city(path)
    database = await Database.open(path)
    async with database.transaction() as tx:
        for code, chat, topic in (("31.73.01", KEC_GROUP, None), ("31.73.01.1001", KEL_GROUP, 5)):
            area = await areas.by_code(tx, code)
            assert area is not None
            await areas.set_group_chat(tx, area.id, chat, topic, T0)
    yield database
    await database.close()


async def test_each_bound_group_gets_its_subtree_recap_once_a_day(db: Database) -> None:
    config = settings()
    assert await queue_daily_groups(db, config, at(20, 59)) == 0  # before 21:00 WIB
    assert await queue_daily_groups(db, config, at(21, 0)) == 2
    assert await queue_daily_groups(db, config, at(21, 5)) == 0  # once per day
    async with db.read() as tx:
        rows = await tx.all(
            "SELECT chat_id, topic_id, payload FROM outbox WHERE kind = ? ORDER BY chat_id",
            (GROUP_RECAP_KIND,),
        )
        kept = await tx.all("SELECT chat_id, outbox_id FROM recap_group_deliveries")
    texts = {row[0]: row[2] for row in rows}
    assert {row[0]: row[1] for row in rows} == {KEC_GROUP: None, KEL_GROUP: 5}
    assert "Rekap harian 24/11/2026" in texts[KEC_GROUP]
    assert "3 dari 3 posko" in texts[KEC_GROUP] and "KBJ-02" in texts[KEC_GROUP]
    assert "1 dari 1 posko" in texts[KEL_GROUP]  # the kelurahan group: its own post only
    assert "KBJ-02" not in texts[KEL_GROUP]
    assert all(outbox_id is not None for _, outbox_id in kept)
    # the next day starts afresh; an unbound group hears nothing more
    async with db.transaction() as tx:
        area = await areas.by_code(tx, "31.73.01.1001")
        assert area is not None
        await areas.set_group_chat(tx, area.id, None, None, T0)
    assert await queue_daily_groups(db, config, at(21, 30, day=25)) == 1
