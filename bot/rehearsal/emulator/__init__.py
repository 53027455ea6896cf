"""A local fake of the Telegram Bot API for tests and ``posko demo``.

The bot under test talks to :class:`FakeBotApi` over real HTTP exactly as it would talk to
``api.telegram.org``: PTB is pointed at it with ``base_url=emu.base_url`` (and
``base_file_url=emu.base_file_url`` for downloads). Tests inject updates as a user would produce
them, read back what the bot sent, and inject the failures Telegram is known for.

All public methods must be called from the event loop that runs the server; the injection
helpers are synchronous so that they can be used directly from test coroutines.

One job per module:

* ``server``: :class:`FakeBotApi` assembled from the parts below, its aiohttp application,
  lifecycle and routing of ``/bot<token>/<method>`` and file downloads;
* ``state``: everything the server remembers, initialised in one place;
* ``users``: updates injected on behalf of fake users;
* ``updates``: getUpdates long polling and webhook delivery;
* ``journal``: the record of the bot's calls, and waiting for the one a test expects;
* ``chats``: chats, the messages in them, resolving ``chat_id``/``message_id``;
* ``messages``, ``media``, ``settings``: the handlers of the Bot API methods;
* ``faults``, ``limits``: injected failures and enforced rate limits;
* ``files``: photos and documents held, with their file ids and paths;
* ``formatting``, ``content``: parse modes; what a message may hold;
* ``records``, ``wire``: the types tests handle; requests decoded and answers encoded.
"""

from bot.rehearsal.emulator.content import (
    MAX_CALLBACK_DATA_BYTES,
    MAX_CAPTION_LENGTH,
    MAX_TEXT_LENGTH,
)
from bot.rehearsal.emulator.formatting import render_text
from bot.rehearsal.emulator.records import (
    REPLY_METHODS,
    SENDING_METHODS,
    FakeUser,
    JSONDict,
    MessageRef,
    Sent,
    inline_buttons,
    inline_keyboard,
    reply_keyboard,
)
from bot.rehearsal.emulator.server import FakeBotApi

__all__ = [
    "MAX_CALLBACK_DATA_BYTES",
    "MAX_CAPTION_LENGTH",
    "MAX_TEXT_LENGTH",
    "REPLY_METHODS",
    "SENDING_METHODS",
    "FakeBotApi",
    "FakeUser",
    "JSONDict",
    "MessageRef",
    "Sent",
    "inline_buttons",
    "inline_keyboard",
    "render_text",
    "reply_keyboard",
]
