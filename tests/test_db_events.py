"""Changes published inside a transaction reach listeners only after COMMIT."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from storage.db import Database


async def test_published_events_reach_listeners_after_commit_only(migrated_db: Path | str) -> None:
    db = await Database.open(migrated_db)
    heard: list[list[dict[str, Any]]] = []
    db.on_events.append(heard.append)
    try:
        async with db.transaction() as tx:
            tx.publish("post", code="KBJ-01", state="staffed")
            assert heard == []  # not before the commit
        assert heard == [[{"topic": "post", "code": "KBJ-01", "state": "staffed"}]]

        with pytest.raises(RuntimeError):
            async with db.transaction() as tx:
                tx.publish("alert", id=7)
                raise RuntimeError("rolled back")
        assert len(heard) == 1  # a rolled-back change is never announced
    finally:
        await db.close()
