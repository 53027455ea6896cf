"""A python-telegram-bot request backend on one shared aiohttp ``ClientSession``.

PTB's default httpx transport caps the bot far below its throughput goal (see
PERFORMANCE-NOTES.md); an aiohttp session serves several times as many requests per
second on the same machine. ``AiohttpRequest`` plugs into ``ApplicationBuilder.request()``
and ``.get_updates_request()`` and keeps the timeout contract of PTB's ``HTTPXRequest``.

Every URL this class sees carries the bot token, so no message of an exception raised
here contains it, and aiohttp's own exceptions (whose messages often do) are never
chained onto ours.
"""

from __future__ import annotations

import asyncio
from urllib.parse import quote, unquote, urlsplit

import aiohttp
from telegram._utils.defaultvalue import DefaultValue
from telegram._utils.types import ODVInput, UploadFileDict
from telegram.error import NetworkError, TelegramError, TimedOut
from telegram.request import BaseRequest, RequestData

_POOL_TIMEOUT_MESSAGE = (
    "Pool timeout: All connections in the connection pool are occupied. Request was *not* "
    "sent to Telegram. Consider adjusting the connection pool size or the pool timeout."
)
_REDACTED = "<redacted>"
# Shorter path segments are method names or folders; redacting them would only garble
# messages, while a token is always far longer.
_MIN_SECRET_SEGMENT = 8


def _redact(text: str, url: str) -> str:
    """``text`` with every form of ``url`` and of its long path segments replaced.

    Segments are redacted one by one because a message may quote the URL re-encoded or
    only in part, and a custom ``base_url`` may put the token anywhere in the path.
    """
    parts = urlsplit(url)
    secrets = {url, parts.path, parts.query}
    for segment in parts.path.split("/"):
        if len(segment) >= _MIN_SECRET_SEGMENT:
            secrets.update((segment, quote(segment), quote(segment, safe=""), unquote(segment)))
    for secret in sorted((s for s in secrets if s), key=len, reverse=True):
        text = text.replace(secret, _REDACTED)
    return text


class AiohttpRequest(BaseRequest):
    """``telegram.request.BaseRequest`` on a lazily created, shared ``aiohttp.ClientSession``.

    The timeouts mean what they mean for ``HTTPXRequest``; aiohttp has no direct
    counterpart for two of them, so:

    * ``pool_timeout`` bounds the wait on a semaphore of ``connection_pool_size`` permits
      taken before aiohttp is called. aiohttp's own connection wait cannot be told apart
      from connecting, and a pool timeout must say that nothing was sent.
    * aiohttp cannot time out a single socket write. ``write_timeout`` (or
      ``media_write_timeout`` for uploads) instead joins ``connect_timeout`` and
      ``read_timeout`` in one deadline for getting the response head, so a stalled
      upload still ends; the body is then read under ``read_timeout`` per read, as with
      httpx. If any of the three is ``None``, there is no such deadline.
    """

    __slots__ = (
        "_connect_timeout",
        "_connection_pool_size",
        "_media_write_timeout",
        "_pool_timeout",
        "_read_timeout",
        "_session",
        "_slots",
        "_write_timeout",
    )

    def __init__(
        self,
        connection_pool_size: int = 256,
        read_timeout: float | None = 5.0,
        write_timeout: float | None = 5.0,
        connect_timeout: float | None = 5.0,
        pool_timeout: float | None = 1.0,
        media_write_timeout: float | None = 20.0,
    ) -> None:
        if connection_pool_size < 1:
            raise ValueError("connection_pool_size must be a positive integer")
        self._connection_pool_size = connection_pool_size
        self._read_timeout = read_timeout
        self._write_timeout = write_timeout
        self._connect_timeout = connect_timeout
        self._pool_timeout = pool_timeout
        self._media_write_timeout = media_write_timeout
        self._session: aiohttp.ClientSession | None = None
        # Built in initialize() so that it binds to the loop that will use the session.
        self._slots: asyncio.BoundedSemaphore | None = None

    @property
    def read_timeout(self) -> float | None:
        """The default read timeout; PTB adds the long-poll timeout to it for getUpdates."""
        return self._read_timeout

    @property
    def http_version(self) -> str:
        return "1.1"

    async def initialize(self) -> None:
        # No await before the session is stored, so Bot.initialize() gathering the same
        # instance twice (as request and get_updates_request) still builds one session.
        if self._session is not None and not self._session.closed:
            return
        self._slots = asyncio.BoundedSemaphore(self._connection_pool_size)
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self._connection_pool_size, limit_per_host=0),
            headers={"User-Agent": self.USER_AGENT},
            # The Bot API sets no cookies; a real jar would only cost time per response.
            cookie_jar=aiohttp.DummyCookieJar(),
            timeout=aiohttp.ClientTimeout(total=None),
        )

    async def shutdown(self) -> None:
        session, self._session = self._session, None
        if session is not None and not session.closed:
            await session.close()

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        write_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        connect_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
        pool_timeout: ODVInput[float] = BaseRequest.DEFAULT_NONE,
    ) -> tuple[int, bytes]:
        session, slots = self._session, self._slots
        if session is None or session.closed or slots is None:
            raise RuntimeError("This AiohttpRequest is not initialized!")

        files = request_data.multipart_data if request_data else None

        # As HTTPXRequest does: any DefaultValue, not only DEFAULT_NONE, means "not passed".
        if isinstance(read_timeout, DefaultValue):
            read_timeout = self._read_timeout
        if isinstance(connect_timeout, DefaultValue):
            connect_timeout = self._connect_timeout
        if isinstance(pool_timeout, DefaultValue):
            pool_timeout = self._pool_timeout
        if isinstance(write_timeout, DefaultValue):
            write_timeout = self._media_write_timeout if files else self._write_timeout

        client_timeout = aiohttp.ClientTimeout(
            total=None,
            # Pool waiting happened on our semaphore already, so aiohttp's `connect` only
            # covers DNS, TCP and TLS, like httpx's connect timeout.
            connect=connect_timeout,
            sock_connect=connect_timeout,
            sock_read=read_timeout,
        )
        head_deadline = (
            None
            if read_timeout is None or write_timeout is None or connect_timeout is None
            else connect_timeout + write_timeout + read_timeout
        )
        body = _request_body(request_data, files)

        await self._take_pool_slot(slots, pool_timeout)
        failure: TelegramError
        # Armed only now: time spent waiting for a pool slot is pool_timeout's business.
        deadline = asyncio.timeout(head_deadline)
        try:
            async with deadline:
                response = await session.request(
                    method, url, data=body, timeout=client_timeout, allow_redirects=False
                )
            async with response:
                return response.status, await response.read()
        except TimeoutError as err:
            failure = TimedOut(_timeout_message(err, deadline.expired()))
        except Exception as err:
            # PTB would wrap this into NetworkError with repr(err), and aiohttp puts the
            # URL into many messages (ClientResponseError, InvalidURL, connect timeouts).
            failure = NetworkError(f"aiohttp.{type(err).__name__}: {_redact(str(err), url)}")
        finally:
            slots.release()
        # Raised outside the except blocks so the aiohttp exception is neither __cause__
        # nor __context__: tracebacks of chained exceptions would print the URL.
        raise failure

    @staticmethod
    async def _take_pool_slot(slots: asyncio.BoundedSemaphore, pool_timeout: float | None) -> None:
        if not slots.locked():
            # Returns without suspending, so no timer needs to be armed on the hot path.
            await slots.acquire()
            return
        try:
            async with asyncio.timeout(pool_timeout):
                await slots.acquire()
        except TimeoutError:
            raise TimedOut(_POOL_TIMEOUT_MESSAGE) from None


# quote_plus(safe="") as one C-level str.translate: urllib quotes byte by byte in Python,
# which at a thousand sends a second (paid broadcast) was a tenth of the sender's time.
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_FORM_QUOTE = [
    chr(byte) if byte in _UNRESERVED else "+" if byte == 0x20 else f"%{byte:02X}"
    for byte in range(256)
]


def _form_quote(text: str) -> str:
    return text.encode("utf-8").decode("latin-1").translate(_FORM_QUOTE)


def form_encode(parameters: dict[str, str]) -> bytes:
    """``urlencode(parameters).encode("ascii")``, byte for byte, faster."""
    return "&".join(
        f"{_form_quote(str(key))}={_form_quote(str(value))}" for key, value in parameters.items()
    ).encode("ascii")


def _request_body(
    request_data: RequestData | None, files: UploadFileDict | None
) -> aiohttp.BytesPayload | aiohttp.FormData | None:
    if request_data is None:
        return None
    if not files:
        # Encoded here rather than through FormData: same bytes, less work per request.
        return aiohttp.BytesPayload(
            form_encode(request_data.json_parameters),
            content_type="application/x-www-form-urlencoded",
        )
    form = aiohttp.FormData()
    for name, value in request_data.json_parameters.items():
        form.add_field(name, value)
    for name, (filename, content, mimetype) in files.items():
        form.add_field(name, content, filename=filename, content_type=mimetype)
    return form


def _timeout_message(err: TimeoutError, deadline_expired: bool) -> str:
    if deadline_expired:
        return "Timed out: no response head within connect_timeout + write_timeout + read_timeout"
    if isinstance(err, aiohttp.ConnectionTimeoutError):
        return "Timed out: connect_timeout exceeded"
    if isinstance(err, aiohttp.SocketTimeoutError):
        return "Timed out: read_timeout exceeded"
    return "Timed out"
