"""A local fake of the Telegram Bot API for tests and ``posko demo``.

The bot under test talks to :class:`FakeBotApi` over real HTTP exactly as it would talk to
``api.telegram.org``: PTB is pointed at it with ``base_url=emu.base_url`` (and
``base_file_url=emu.base_file_url`` for downloads). Tests inject updates as a user would produce
them, read back what the bot sent, and inject the failures Telegram is known for.

All public methods must be called from the event loop that runs the server; the injection
helpers are synchronous so that they can be used directly from test coroutines.
"""

from bot.rehearsal.emulator.formatting import render_text
from bot.rehearsal.emulator.records import (
    REPLY_METHODS,
    SENDING_METHODS,
    FakeUser,
    Sent,
    inline_buttons,
    inline_keyboard,
    reply_keyboard,
)
from bot.rehearsal.emulator.server import FakeBotApi

__all__ = [
    "REPLY_METHODS",
    "SENDING_METHODS",
    "FakeBotApi",
    "FakeUser",
    "Sent",
    "inline_buttons",
    "inline_keyboard",
    "render_text",
    "reply_keyboard",
]
