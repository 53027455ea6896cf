"""Shared fixtures: a sample city in SQLite or PostgreSQL, the fake Bot API, and the real bot
against it.

``db_path`` is the seeded database: a SQLite file, or the URL of a PostgreSQL database of
the test's own. The modules in ON_POSTGRES (and tests marked ``both_backends``) run on both
back ends; the rest on SQLite only, to keep the suite within its time.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from bot.core.app import PoskoApp, build_application, running
from bot.core.clock import FakeClock, SystemClock
from bot.core.config import Settings, load_settings
from bot.rehearsal.emulator import FakeBotApi, FakeUser, Sent
from storage import areas, members, posts
from storage.areas import AreaRow
from storage.db import Database, is_postgres
from storage.members import MemberRow
from storage.posts import PostRow
from tests import backends

# Tuesday 24 November 2026, 19:00 WIB.
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
MONAS = (-6.175392, 106.827153)

AREAS = [
    AreaRow("31", "DKI Jakarta", "provinsi", None),
    AreaRow("31.73", "Kota Jakarta Barat", "kota", "31"),
    AreaRow("31.73.01", "Kebon Jeruk", "kecamatan", "31.73"),
    AreaRow("31.73.01.1001", "Kebon Jeruk", "kelurahan", "31.73.01"),
    AreaRow("31.73.01.1002", "Sukabumi Utara", "kelurahan", "31.73.01"),
]
POSTS = [
    PostRow("KBJ-01", "Posko Kel. Kebon Jeruk", "31.73.01.1001", MONAS[0], MONAS[1], 100, 1, "24h"),
    PostRow("KBJ-02", "Posko Kel. Sukabumi Utara", "31.73.01.1002", -6.2, 106.77, 150, 1, "24h"),
    PostRow("KEC-KBJ", "Posko Kec. Kebon Jeruk", "31.73.01", None, None, None, 1, "24h"),
]
MEMBERS = [
    MemberRow("budi", "Budi Santoso", None, None, ("officer",), ("KBJ-01",), (), 1001, None),
    MemberRow("sari", "Sari Dewi", None, None, ("officer",), ("KBJ-01", "KBJ-02"), (), 1002, None),
    MemberRow("john", "John Doe", None, None, ("officer",), ("KEC-KBJ",), (), 1003, "en"),
    MemberRow(
        "lurah",
        "Lurah Kebon Jeruk",
        None,
        None,
        ("supervisor",),
        (),
        ("31.73.01.1001",),
        2001,
        None,
    ),
    MemberRow(
        "camat", "Camat Kebon Jeruk", None, None, ("supervisor",), (), ("31.73.01",), 2002, None
    ),
    MemberRow("admin", "Ops Kota", None, None, ("admin",), (), (), 3001, None),
    MemberRow("newbie", "Anggota Baru", None, None, ("officer",), ("KBJ-02",), (), None, None),
]

BUDI = FakeUser(1001, "Budi")
SARI = FakeUser(1002, "Sari")
JOHN = FakeUser(1003, "John", language_code="en")
LURAH = FakeUser(2001, "Lurah")
CAMAT = FakeUser(2002, "Camat")
ADMIN = FakeUser(3001, "Admin")
NEWBIE = FakeUser(4001, "Baru")
STRANGER = FakeUser(9999, "Orang Asing")


async def seed_city(path: Path | str, now: datetime = T0) -> None:
    db = await Database.open(path)
    await db.migrate()
    async with db.transaction() as tx:
        await areas.upsert(tx, AREAS, now)
        await posts.upsert(tx, POSTS, now)
        await members.upsert(tx, MEMBERS, now)
    await db.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
async def emu() -> AsyncIterator[FakeBotApi]:
    async with FakeBotApi() as api:
        yield api


# Test modules that run on PostgreSQL too (every test in them that uses a database fixture).
ON_POSTGRES = {
    "test_migrations",
    "test_watcher",
    "test_delivery",
    "test_db_events",
    "test_dialect",
    "test_roster_planning",
    "test_staffing",
    "test_report_followup",
    "test_taken_ladder",
    "test_officer_e2e",
    "test_alerts_e2e",
    "test_reports_e2e",
    "test_disposisi_e2e",
    "test_circulars_e2e",
}
BACKENDS = ("sqlite", "postgresql")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "both_backends: run on SQLite and on PostgreSQL")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" not in metafunc.fixturenames:
        return
    if any(
        mark.args[:1] == ("backend",) for mark in metafunc.definition.iter_markers("parametrize")
    ):
        return  # the test chose its back end itself
    module = metafunc.module.__name__.rsplit(".", 1)[-1]
    everywhere = os.environ.get("POSKO_TEST_BACKENDS") == "all"
    if (
        everywhere
        or module in ON_POSTGRES
        or metafunc.definition.get_closest_marker("both_backends")
    ):
        metafunc.parametrize("backend", BACKENDS, indirect=True)


@pytest.fixture
def backend(request: pytest.FixtureRequest) -> str:
    return str(getattr(request, "param", "sqlite"))


@pytest.fixture
async def pg_admin(backend: str) -> str | None:
    """The PostgreSQL admin URL when the test runs on PostgreSQL (skipped if no server)."""
    if backend != "postgresql":
        return None
    admin = await backends.admin_url()
    if admin is None:
        pytest.skip(backends.why_not())
    return admin


@pytest.fixture
async def empty_db(tmp_path: Path, pg_admin: str | None) -> Path | str:
    """A database with nothing in it yet (not migrated)."""
    if pg_admin is None:
        return tmp_path / "empty.db"
    return await backends.empty(pg_admin)


async def _migrate(target: Path | str) -> None:
    db = await Database.open(target)
    await db.migrate()
    await db.close()


@pytest.fixture
async def migrated_db(tmp_path: Path, pg_admin: str | None) -> Path | str:
    """A database at the latest schema with no rows."""
    if pg_admin is None:
        path = tmp_path / "migrated.db"
        await _migrate(path)
        return path
    return await backends.seeded(pg_admin, "migrated", _migrate)


@pytest.fixture
async def other_empty_db(tmp_path: Path, pg_admin: str | None) -> Path | str:
    """A second empty database, for comparing two."""
    if pg_admin is None:
        return tmp_path / "other.db"
    return await backends.empty(pg_admin, 1)


@pytest.fixture
async def db_path(tmp_path: Path, pg_admin: str | None) -> Path:
    """The seeded sample city. On PostgreSQL a URL (a str): Database.open and
    make_settings take either (tests/backends.py says how each test gets its own)."""
    if pg_admin is None:
        path = tmp_path / "posko.db"
        await seed_city(path)
        return path
    seed_key = repr((AREAS, POSTS, MEMBERS, T0))
    return await backends.seeded(pg_admin, seed_key, seed_city)  # type: ignore[return-value]


async def db_rows(
    db_path: Path | str, sql: str, params: tuple[object, ...] = ()
) -> list[tuple[Any, ...]]:
    """Rows of a query on the test's database, whichever the back end, as tuples."""
    db = await Database.open(db_path)
    try:
        async with db.read() as tx:
            return [tuple(row) for row in await tx.all(sql, params)]
    finally:
        await db.close()


async def db_write(db_path: Path | str, sql: str, params: tuple[object, ...] = ()) -> int:
    """Run one write on the test's database, whichever the back end; rows changed."""
    db = await Database.open(db_path)
    try:
        async with db.transaction() as tx:
            return await tx.execute(sql, params)
    finally:
        await db.close()


def storage_section(db_path: Path | str) -> dict[str, str]:
    return {"url": db_path} if is_postgres(db_path) else {"path": str(db_path)}


def storage_toml(db_path: Path | str) -> str:
    """The ``[storage]`` section of a config file for the test's database."""
    ((key, value),) = storage_section(db_path).items()
    return f'[storage]\n{key} = "{Path(value).as_posix() if key == "path" else value}"\n'


def make_settings(emu: FakeBotApi, db_path: Path | str, **sections: Any) -> Settings:
    overrides: dict[str, Any] = {
        "telegram": {
            "token": emu.token,
            "base_url": emu.base_url,
            "bot_username": emu.bot_username,
            "poll_timeout": "1s",
        },
        "storage": storage_section(db_path),
    }
    overrides.update(sections)
    return load_settings(None, overrides=overrides)


AppFactory = Callable[..., AbstractAsyncContextManager[PoskoApp]]


@pytest.fixture
def start_bot(emu: FakeBotApi, db_path: Path, clock: FakeClock) -> AppFactory:
    """``async with start_bot() as app:`` runs the real bot until the block ends."""

    @asynccontextmanager
    async def _start(*, real_time: bool = False, **sections: Any) -> AsyncIterator[PoskoApp]:
        app = build_application(
            make_settings(emu, db_path, **sections), SystemClock() if real_time else clock
        )
        async with running(app, poll_timeout=timedelta(seconds=1)):
            yield app

    return _start


@pytest.fixture
async def bot(start_bot: AppFactory) -> AsyncIterator[PoskoApp]:
    async with start_bot() as app:
        yield app


@dataclass
class Phone:
    """One person's Telegram app: send something, get the bot's answer."""

    emu: FakeBotApi
    user: FakeUser

    async def send(self, text: str, **kwargs: Any) -> Sent:
        mark = self.emu.mark()
        self.emu.send_text(self.user, text, **kwargs)
        return await self.emu.wait_reply(self.user.id, after=mark)

    async def location(self, lat: float, lon: float, **kwargs: Any) -> Sent:
        mark = self.emu.mark()
        self.emu.send_location(self.user, lat, lon, **kwargs)
        return await self.emu.wait_reply(self.user.id, after=mark)

    async def photo(self, **kwargs: Any) -> Sent:
        mark = self.emu.mark()
        self.emu.send_photo(self.user, **kwargs)
        return await self.emu.wait_reply(self.user.id, after=mark)

    async def press(self, message: Sent, data: str, *, forge: bool = False) -> Sent:
        """Press a button and wait for the bot's answer to the callback query.

        ``forge`` sends callback data the message never carried, as a tampered client could.
        """
        mark = self.emu.mark()
        self.emu.press_button(self.user, message, data, check=not forge)
        return await self.emu.wait_for(
            lambda sent: sent.method == "answerCallbackQuery", after=mark
        )

    async def press_and_reply(
        self, message: Sent, data: str, *, forge: bool = False, contains: str | None = None
    ) -> Sent:
        """Press a button and wait for the next message to this user (``contains``: the
        next that says it, when other messages may reach the chat first)."""
        mark = self.emu.mark()
        self.emu.press_button(self.user, message, data, check=not forge)
        return await self.emu.wait_reply(self.user.id, after=mark, contains=contains)

    def buttons(self, message: Sent) -> list[tuple[str, str]]:
        return self.emu.inline_buttons(message)


@pytest.fixture
def phone(emu: FakeBotApi) -> Callable[[FakeUser], Phone]:
    return lambda user: Phone(emu, user)
