"""What every handler and job needs at hand: settings, the clock and the database."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from bot.core.clock import Clock
from bot.core.config import Settings
from bot.presence.registration import MemberCache
from storage.db import Database

if TYPE_CHECKING:
    from bot.watch.watcher import Watcher


@dataclass
class Runtime:
    settings: Settings
    clock: Clock
    db: Database | None = None
    bot_username: str = "posko_bot"
    watcher: Watcher | None = None
    sender: Any = None
    metrics: Any = None
    web: Any = None
    """The command room's server (bot.web.server.WebServer) when ``[web] port`` is set."""
    members: MemberCache = field(default_factory=MemberCache)
    # (member id, roles, language) whose command menu this process has set.
    menus: set[tuple[int, frozenset[str], str]] = field(default_factory=set)
    stats: dict[str, int] = field(default_factory=dict)

    @property
    def database(self) -> Database:
        if self.db is None:
            raise RuntimeError("database not open yet (post_init has not run)")
        return self.db

    def count(self, name: str) -> None:
        self.stats[name] = self.stats.get(name, 0) + 1
