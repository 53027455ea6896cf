"""Files the emulator holds: photos and documents sent by users or the bot, with the file ids
and download paths Telegram would give them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any, Literal

from bot.rehearsal.emulator.records import JSONDict
from bot.rehearsal.emulator.wire import _ApiError, _Upload


@dataclass(slots=True)
class _StoredFile:
    file_id: str
    file_unique_id: str
    kind: Literal["photo", "document", "video"]
    data: bytes
    path: str
    # For photos: every size of the photo, so that re-sending by file_id reproduces them all.
    obj: Any


class FileStore:
    """Every file the emulator knows, by file_id and by download path, and the ids it hands out."""

    def __init__(self) -> None:
        self._file_seq = itertools.count(1)
        self._files: dict[str, _StoredFile] = {}
        self._files_by_path: dict[str, _StoredFile] = {}

    def get(self, file_id: str) -> _StoredFile | None:
        return self._files.get(file_id)

    def at_path(self, path: str) -> _StoredFile | None:
        return self._files_by_path.get(path)

    def _new_file_ids(self, prefix: str) -> tuple[str, str]:
        n = next(self._file_seq)
        return f"{prefix}AgADAgAD{n:08d}Fake", f"AQAD{n:08d}"

    def new_photo(self, data: bytes, file_id: str | None = None) -> list[JSONDict]:
        sizes: list[JSONDict] = []
        stored: list[_StoredFile] = []
        dims = [(90, 67), (320, 240), (800, 600), (1280, 960)]
        for i, (w, h) in enumerate(dims):
            fid, uid = self._new_file_ids("AgAC")
            if file_id is not None and i == len(dims) - 1:
                fid = file_id
            size = len(data) * (i + 1) // len(dims) or 1
            sizes.append(
                {"file_id": fid, "file_unique_id": uid, "width": w, "height": h, "file_size": size}
            )
            path = f"photos/file_{uid}.jpg"
            stored.append(_StoredFile(fid, uid, "photo", data, path, None))
        for f in stored:
            f.obj = sizes
            self._files[f.file_id] = f
            self._files_by_path[f.path] = f
        return sizes

    def new_document(self, data: bytes, file_name: str | None, mime_type: str | None) -> JSONDict:
        fid, uid = self._new_file_ids("BQAC")
        doc: JSONDict = {"file_id": fid, "file_unique_id": uid, "file_size": len(data)}
        if file_name:
            doc["file_name"] = file_name
        if mime_type:
            doc["mime_type"] = mime_type
        suffix = ""
        if file_name and "." in file_name:
            suffix = "." + file_name.rsplit(".", 1)[1][:10]
        stored = _StoredFile(fid, uid, "document", data, f"documents/file_{uid}{suffix}", doc)
        self._files[fid] = stored
        self._files_by_path[stored.path] = stored
        return doc

    def new_video(self, data: bytes, file_id: str | None = None) -> JSONDict:
        fid, uid = self._new_file_ids("BAAC")
        if file_id is not None:
            fid = file_id
        video: JSONDict = {
            "file_id": fid,
            "file_unique_id": uid,
            "width": 640,
            "height": 360,
            "duration": 5,
            "mime_type": "video/mp4",
            "file_size": len(data),
        }
        stored = _StoredFile(fid, uid, "video", data, f"videos/file_{uid}.mp4", video)
        self._files[fid] = stored
        self._files_by_path[stored.path] = stored
        return video

    def input_file(
        self, p: JSONDict, files: dict[str, _Upload], key: str
    ) -> _Upload | _StoredFile | str:
        value = p.get(key)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = files.get(value[len("attach://") :])
            if upload is None:
                raise _ApiError(400, f"Bad Request: file {value} not found in the request")
            return upload
        if key in files:
            return files[key]
        if not isinstance(value, str) or not value:
            raise _ApiError(400, f"Bad Request: there is no {key} in the request")
        if value.startswith(("http://", "https://")):
            return value
        stored = self._files.get(value)
        if stored is None:
            raise _ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
        return stored
