"""Issues with their evidence, as one zip (SPEC §8): ``posko export issues --with-photos
-o FILE.zip`` and ``/ekspor laporan foto``.

The zip holds the issues sheet (xlsx) and every attachment as ``photos/<REF>-<n>.jpg``
(``/`` in a reference becomes ``-``: ``KBJ-01/0007`` → ``photos/KBJ-01-0007-1.jpg``;
videos keep ``.mp4``), fetched from the Bot API with getFile and a download. A file that
cannot be fetched (expired, unknown, a network error) is not fatal: the sheet's last two
columns list, per report, the files in the zip and the ones missing with the reason.

Rows are read on their own read-only connection in one snapshot; downloads run a few at
a time and each file goes into the zip as it arrives, so memory holds only those few.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import zipfile
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from telegram import Bot

from bot.exchange.export import (
    COLUMNS,
    Column,
    ExportError,
    Period,
    Places,
    Value,
    issue_rows,
    scratch_for,
    write_xlsx,
)
from storage import export as store

FETCH_AT_ONCE = 16
"""Downloads in flight at once (getFile + download each)."""
PHOTO_COLUMNS = (Column("photo_files", cap=50), Column("photos_missing", cap=60))
MAX_PROBLEM = 80

Fetch = Callable[[str], Awaitable[bytes]]
"""file_id → the file's bytes; raises when the file cannot be had."""


@dataclass(frozen=True, slots=True)
class Media:
    ref: str
    number: int  # 1-based, in the report's order
    file_id: str
    kind: str

    @property
    def name(self) -> str:
        suffix = "mp4" if self.kind == "video" else "jpg"
        return f"photos/{self.ref.replace('/', '-')}-{self.number}.{suffix}"


@dataclass(slots=True)
class ZipResult:
    rows: int = 0
    photos: int = 0
    missing: int = 0
    names: list[str] = field(default_factory=list)


def _read(
    db_path: str | Path, period: Period, language: str, area_ids: Collection[int] | None
) -> tuple[list[list[Value]], list[Media]]:
    with store.snapshot(db_path) as conn:
        places = Places(store.area_tree(conn))
        rows = list(issue_rows(conn, period, places, language, area_ids))
        media = [Media(*row) for row in store.issue_media(conn, period.start, period.end, area_ids)]
    return rows, media


async def _fetch_into(
    archive: zipfile.ZipFile, media: list[Media], fetch: Fetch
) -> dict[str, list[str]]:
    """Download every file into the archive; returns the problem of each missing one,
    by report reference ("<n>: <reason>")."""
    missing: dict[str, list[str]] = {}
    slots = asyncio.Semaphore(FETCH_AT_ONCE)

    async def one(item: Media) -> tuple[Media, bytes | None, str | None]:
        async with slots:
            try:
                return item, await fetch(item.file_id), None
            except Exception as exc:
                reason = " ".join(str(exc).split())[:MAX_PROBLEM] or type(exc).__name__
                return item, None, reason

    for done in asyncio.as_completed([one(item) for item in media]):
        item, data, problem = await done
        if data is None:
            missing.setdefault(item.ref, []).append(f"{item.number}: {problem}")
            continue
        archive.writestr(zipfile.ZipInfo(item.name, (2026, 1, 1, 0, 0, 0)), data)
    return missing


async def export_zip(
    db_path: str | Path,
    period: Period,
    out: Path,
    language: str,
    fetch: Fetch,
    area_ids: Collection[int] | None = None,
    sheet: str = "issues.xlsx",
) -> ZipResult:
    """Write the zip to ``out`` (replaced whole, never half-written)."""
    scratch = scratch_for(out)
    sheet_file = scratch.with_suffix(".xlsx.part")
    result = ZipResult()
    try:
        try:
            rows, media = await asyncio.to_thread(_read, db_path, period, language, area_ids)
        except store.NoDatabase as exc:
            raise ExportError("database", str(exc)) from None
        with zipfile.ZipFile(scratch, "w", zipfile.ZIP_STORED) as archive:
            missing = await _fetch_into(archive, media, fetch)
            stored = {info.filename for info in archive.infolist()}
            files: dict[str, list[str]] = {}
            for item in media:
                if item.name in stored:
                    files.setdefault(item.ref, []).append(item.name)
            full = [
                [
                    *row,
                    ", ".join(files.get(str(row[0]), [])),
                    "; ".join(missing.get(str(row[0]), [])),
                ]
                for row in rows
            ]
            columns = (*COLUMNS["issues"], *PHOTO_COLUMNS)
            result.rows = await asyncio.to_thread(
                write_xlsx, sheet_file, "issues", full, language, columns
            )
            archive.write(sheet_file, sheet, compress_type=zipfile.ZIP_DEFLATED)
            result.photos = len(stored)
            result.missing = sum(len(v) for v in missing.values())
            result.names = sorted(stored)
        os.replace(scratch, out)
    except OSError as exc:
        raise ExportError(
            "output", f"cannot write {out}: {exc.strerror or exc}", value=str(out)
        ) from None
    finally:
        for leftover in (scratch, sheet_file):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
    return result


def bot_fetch(bot: Bot) -> Fetch:
    """getFile, then the download, with a PTB bot (its ``base_file_url`` decides where)."""

    async def fetch(file_id: str) -> bytes:
        found = await bot.get_file(file_id)
        return bytes(await found.download_as_bytearray())

    return fetch
