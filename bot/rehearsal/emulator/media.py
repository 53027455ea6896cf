"""Bot API methods on files: sendPhoto, sendDocument and getFile (downloads are in the server)."""

from __future__ import annotations

from bot.rehearsal.emulator.chats import ChatsMixin
from bot.rehearsal.emulator.content import _caption, _check_markup, _echo_markup
from bot.rehearsal.emulator.files import _StoredFile
from bot.rehearsal.emulator.journal import JournalMixin
from bot.rehearsal.emulator.records import JSONDict
from bot.rehearsal.emulator.wire import _ApiError, _str_param, _Upload


class MediaMixin(ChatsMixin, JournalMixin):
    """Handlers of the file methods."""

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
        self._rate.check(int(chat["id"]))
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

    def _send_document(self, p: JSONDict, files: dict[str, _Upload]) -> JSONDict:
        chat = self._target_chat(p)
        source = self._files.input_file(p, files, "document")
        caption = _caption(p)
        markup = _check_markup(p.get("reply_markup"))
        self._rate.check(int(chat["id"]))
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
