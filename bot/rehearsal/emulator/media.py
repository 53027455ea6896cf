"""Bot API methods on files: sendPhoto, sendDocument, sendMediaGroup and getFile (downloads
are in the server)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

from bot.rehearsal.emulator.chats import ChatsMixin
from bot.rehearsal.emulator.content import _caption, _check_markup, _echo_markup
from bot.rehearsal.emulator.files import _StoredFile
from bot.rehearsal.emulator.journal import JournalMixin
from bot.rehearsal.emulator.limits import paid_broadcast
from bot.rehearsal.emulator.records import JSONDict
from bot.rehearsal.emulator.wire import _ApiError, _str_param, _Upload

MIN_ALBUM = 2
MAX_ALBUM = 10
_ALBUM_TYPES = frozenset({"photo", "video", "document"})


class MediaMixin(ChatsMixin, JournalMixin):
    """Handlers of the file methods."""

    _album_seq: Iterator[int] = itertools.count(10_000_001)

    def file_bytes(self, file_id: str) -> bytes | None:
        stored = self._files.get(file_id)
        return None if stored is None else stored.data

    def _send_photo(self, p: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        chat = self._target_chat(p)
        source = self._files.input_file(p, files, "photo")
        if isinstance(source, _StoredFile) and source.kind != "photo":
            raise _ApiError(400, "Bad Request: can't use file of type Document as Photo")
        caption = _caption(p)
        markup = _check_markup(p.get("reply_markup"))
        self._rate.check(int(chat["id"]), paid_broadcast(p))
        if isinstance(source, _StoredFile):
            sizes = list(source.obj)
        elif isinstance(source, _Upload):
            sizes = self._files.new_photo(source.data)
        else:
            sizes = self._files.new_photo(source.encode())
        extra: JSONDict = {"photo": sizes, **caption, **_echo_markup(markup)}
        msg = self._new_bot_message(chat, p, extra)
        self._record(
            "sendPhoto", p, chat["id"], caption.get("caption"), msg["message_id"], msg, files
        )
        return msg

    def _send_media_group(self, p: JSONDict, files: dict[str, _Upload]) -> list[JSONDict]:
        """An album: 2–10 photos/videos, or 2–10 documents (never mixed with the others),
        each by a file_id the emulator knows of the right type, or an upload."""
        chat = self._target_chat(p)
        media = p.get("media")
        if not isinstance(media, list):
            raise _ApiError(400, "Bad Request: can't parse media JSON object")
        if not MIN_ALBUM <= len(media) <= MAX_ALBUM:
            raise _ApiError(400, "Bad Request: wrong number of media specified")
        types = set()
        built: list[tuple[JSONDict, JSONDict]] = []
        for item in media:
            if not isinstance(item, dict):
                raise _ApiError(400, "Bad Request: can't parse InputMedia")
            kind = item.get("type")
            if kind not in _ALBUM_TYPES:
                raise _ApiError(400, f"Bad Request: unsupported media type {kind!r} in album")
            types.add(kind)
            source = self._files.input_file({"media": item.get("media")}, files, "media")
            built.append((item, self._album_content(str(kind), source)))
        if "document" in types and len(types) > 1:
            raise _ApiError(400, "Bad Request: document can't be mixed with other media types")
        self._rate.check(int(chat["id"]), paid_broadcast(p))
        group_id = f"{next(self._album_seq)}"
        messages: list[JSONDict] = []
        for item, content in built:
            caption = _caption(item)
            extra: JSONDict = {**content, **caption, "media_group_id": group_id}
            messages.append(self._new_bot_message(chat, p, extra))
        first_caption = messages[0].get("caption")
        self._record(
            "sendMediaGroup",
            p,
            chat["id"],
            first_caption,
            messages[0]["message_id"],
            messages,
            files,
        )
        return messages

    def _album_content(self, kind: str, source: _Upload | _StoredFile | str) -> JSONDict:
        if isinstance(source, _StoredFile):
            if source.kind != kind:
                raise _ApiError(
                    400,
                    f"Bad Request: can't use file of type {source.kind.capitalize()}"
                    f" as {kind.capitalize()}",
                )
            return {kind: list(source.obj) if kind == "photo" else dict(source.obj)}
        data = source.data if isinstance(source, _Upload) else source.encode()
        if kind == "photo":
            return {"photo": self._files.new_photo(data)}
        if kind == "video":
            return {"video": self._files.new_video(data)}
        name = source.filename if isinstance(source, _Upload) else "file"
        return {"document": self._files.new_document(data, name, None)}

    def _send_document(self, p: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        chat = self._target_chat(p)
        source = self._files.input_file(p, files, "document")
        caption = _caption(p)
        markup = _check_markup(p.get("reply_markup"))
        self._rate.check(int(chat["id"]), paid_broadcast(p))
        if isinstance(source, _StoredFile):
            if source.kind == "document":
                doc = dict(source.obj)
            else:
                doc = self._files.new_document(source.data, "photo.jpg", "image/jpeg")
        elif isinstance(source, _Upload):
            doc = self._files.new_document(source.data, source.filename, source.content_type)
        else:
            name = source.rsplit("/", 1)[-1] or "file"
            doc = self._files.new_document(source.encode(), name, None)
        extra: JSONDict = {"document": doc, **caption, **_echo_markup(markup)}
        msg = self._new_bot_message(chat, p, extra)
        self._record(
            "sendDocument", p, chat["id"], caption.get("caption"), msg["message_id"], msg, files
        )
        return msg

    def _get_file(self, p: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        stored = self._files.get(_str_param(p, "file_id") or "")
        if stored is None:
            raise _ApiError(400, "Bad Request: invalid file_id")
        return {
            "file_id": stored.file_id,
            "file_unique_id": stored.file_unique_id,
            "file_size": len(stored.data),
            "file_path": stored.path,
        }
