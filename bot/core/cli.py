"""The ``posko`` command line."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from pathlib import Path

from bot.core.clock import SystemClock, day_hhmm
from bot.core.config import ConfigError, Settings, load_settings
from bot.core.logs import setup as setup_logging

EXIT_CONFIG = 2
EXIT_DATA = 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="posko", description="Posko election-desk bot")
    commands = parser.add_subparsers(dest="command", required=True)

    def with_config(sub: argparse.ArgumentParser) -> argparse.ArgumentParser:
        sub.add_argument("--config", type=Path, default=None, help="config.toml")
        return sub

    with_config(commands.add_parser("run", help="run the bot (migrates the database first)"))
    demo = commands.add_parser("demo", help="local rehearsal: emulator, sample city, transcript")
    demo.add_argument("--interactive", action="store_true", help="type as a simulated officer")
    demo.add_argument(
        "--web",
        nargs="?",
        const=8080,
        type=int,
        default=None,
        metavar="PORT",
        help="serve the command room on 127.0.0.1:PORT (8080) and print its login link",
    )
    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    with_config(db_commands.add_parser("migrate", help="bring the database to the latest schema"))
    backup = with_config(
        db_commands.add_parser(
            "backup", help="online copy of the live database (safe while running)"
        )
    )
    backup.add_argument("target", type=Path)
    copy = with_config(
        db_commands.add_parser(
            "copy",
            help="copy the SQLite database ([storage] path) to PostgreSQL, checked row for row",
        )
    )
    copy.add_argument("--to", required=True, metavar="URL", help="postgresql://user@host/db")
    copy.add_argument(
        "--replace", action="store_true", help="empty the target's tables first (one transaction)"
    )
    imp = with_config(
        commands.add_parser(
            "import",
            help="upsert areas, posts, members, agencies or the roster from CSV, or area"
            " boundaries from GeoJSON",
        )
    )
    imp.add_argument(
        "kind", choices=["areas", "posts", "members", "agencies", "roster", "boundaries"]
    )
    imp.add_argument("file", type=Path)
    inv = with_config(commands.add_parser("invite", help="create an invite code for a member"))
    inv.add_argument("ref", help="the member's ref")
    inv.add_argument(
        "--rebind",
        action="store_true",
        help="the code moves an already registered member to the account that uses it",
    )
    exp = with_config(
        commands.add_parser(
            "export", help="shifts, issues, alerts, roster or attendance to CSV/XLSX"
        )
    )
    exp.add_argument("kind", help="shifts, issues, alerts, roster or attendance")
    exp.add_argument("--since", help="first day, YYYY-MM-DD (WIB, from 00:00)")
    exp.add_argument("--until", help="last day, YYYY-MM-DD (WIB, until 23:59:59)")
    exp.add_argument("--format", dest="fmt", help="csv or xlsx (default: from the -o suffix)")
    exp.add_argument("-o", "--output", type=Path, required=True, help="the file to write")
    exp.add_argument(
        "--with-photos",
        action="store_true",
        help="issues only: a zip of the sheet (xlsx) and every photo, fetched with getFile",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from bot.rehearsal.demo import main as demo_main

        setup_logging("WARNING", "text")
        return demo_main(interactive=args.interactive, web_port=args.web)
    try:
        settings = load_settings(args.config, require_token=args.command == "run")
    except ConfigError as exc:
        print(f"posko: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    setup_logging(settings.log.level, settings.log.format)
    from storage.db import DatabaseUnavailable

    try:
        if args.command == "run":
            return _run(settings)
        if args.command == "export":
            return _export(args, settings)
        if args.command == "db" and args.db_command == "copy":
            if settings.storage.url is not None:
                print(
                    f"posko: this config already runs on {settings.storage.shown} ([storage]"
                    " url); db copy reads the SQLite file of [storage] path: give it the"
                    " config the bot ran with on SQLite",
                    file=sys.stderr,
                )
                return EXIT_CONFIG
            return asyncio.run(_db_copy(settings.storage.path, args.to, args.replace))
        return asyncio.run(_offline(args, settings))
    except ConfigError as exc:
        print(f"posko: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except DatabaseUnavailable as exc:
        print(f"posko: {exc}", file=sys.stderr)
        return EXIT_DATA
    except KeyboardInterrupt:
        return 130


def _run(settings: Settings) -> int:
    from bot.core import loop
    from bot.core.app import build_application, serve

    app = build_application(settings, SystemClock())
    loop.run(serve(app))
    return 0


async def _offline(args: argparse.Namespace, settings: Settings) -> int:
    from storage.db import BackupUnsupported, Database

    db = await Database.open(settings.storage.target)
    try:
        before, after = await db.migrate()
        if args.command == "db" and args.db_command == "backup":
            if args.target.exists():
                print(f"posko: {args.target} exists; choose a new file", file=sys.stderr)
                return EXIT_CONFIG
            try:
                await db.backup(args.target)
            except BackupUnsupported as exc:
                print(f"posko: {exc}", file=sys.stderr)
                return EXIT_CONFIG
            print(f"backup of {settings.storage.shown} written to {args.target}")
            return 0
        if args.command == "db":
            print(f"database {settings.storage.shown}: schema version {before} → {after}")
            return 0
        if args.command == "import":
            return await _import(db, args.kind, args.file, settings)
        if args.command == "invite":
            return await _invite(db, settings, args.ref, args.rebind)
    finally:
        await db.close()
    return EXIT_CONFIG


async def _db_copy(source: Path, url: str, replace: bool) -> int:
    """Never opens the source as the bot does (no migration): it reads a snapshot of it."""
    from bot.core.clock import wib
    from bot.exchange.db_copy import CopyError, CopyFailed, CopyRefused, copy_database, render
    from storage.db import redacted

    print(f"copying {source} to {redacted(url)}{' (replacing its rows)' if replace else ''}")
    try:
        report = await copy_database(source, url, replace=replace, progress=print)
    except CopyRefused as exc:
        print(f"posko: copy refused, nothing was written: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except CopyFailed as exc:
        print("\n".join(render(exc.report.checks)))
        print(
            f"posko: {exc}: the copy was rolled back, {exc.report.target} is as it was",
            file=sys.stderr,
        )
        return EXIT_DATA
    except (CopyError, OSError) as exc:
        print(f"posko: copy failed and was rolled back: {exc}", file=sys.stderr)
        return EXIT_DATA
    print("\n".join(render(report.checks)))
    print(
        f"{report.rows} rows in {len(report.checks)} tables copied and verified in"
        f" {report.seconds:.1f} s (schema version {report.version}, the source as of"
        f" {wib(report.taken_at):%H:%M:%S} WIB)"
    )
    print(
        "changes after that moment are not in the copy: stop the bot, copy again with"
        " --replace, then set [storage] url"
    )
    return 0


async def _import(db: object, kind: str, path: Path, settings: Settings) -> int:
    from bot.exchange.csv_file import ImportFailed
    from bot.exchange.importer import import_csv
    from storage.db import Database

    assert isinstance(db, Database)
    if kind == "boundaries":
        return await _import_boundaries(db, path)
    try:
        summary = await import_csv(
            db,
            kind,  # type: ignore[arg-type]
            path,
            SystemClock().now(),
            settings.roster,
        )
    except ImportFailed as exc:
        print(f"posko: import refused, nothing was written:\n{exc}", file=sys.stderr)
        return EXIT_DATA
    if kind == "roster":
        print(
            f"{path.name}: {summary.created} slots added, {summary.updated} kept, "
            f"{summary.dropped} coming slots dropped (the posts in the file follow it now)"
        )
    else:
        print(f"{path.name}: {summary.created} created, {summary.updated} updated")
    return 0


async def _import_boundaries(db: object, path: Path) -> int:
    from bot.exchange.boundary_file import import_boundaries
    from bot.exchange.csv_file import ImportFailed
    from storage.db import Database

    assert isinstance(db, Database)
    try:
        summary = await import_boundaries(db, path, SystemClock().now())
    except ImportFailed as exc:
        print(f"posko: import refused, nothing was written:\n{exc}", file=sys.stderr)
        return EXIT_DATA
    print(f"{path.name}: {summary.created} outlines created, {summary.updated} updated")
    return 0


async def _invite(db: object, settings: Settings, ref: str, rebind: bool = False) -> int:
    from bot.presence.registration import deep_link, invite
    from storage.db import Database

    assert isinstance(db, Database)
    invitation = await invite(db, ref, SystemClock().now(), settings.invites.expiry, rebind=rebind)
    if invitation is None:
        print(f"posko: no member with ref '{ref}'", file=sys.stderr)
        return EXIT_DATA
    if invitation.member.telegram_id is not None and not rebind:
        print(
            "posko: note: this member is registered already; the code cannot move them to "
            "another Telegram account (use --rebind for a lost phone)",
            file=sys.stderr,
        )
    username = settings.telegram.bot_username or "<bot_username>"
    print(f"member:  {invitation.member.name} ({invitation.member.ref})")
    print(f"code:    {invitation.code}")
    print(f"expires: {day_hhmm(invitation.expires_at)} WIB")
    if rebind:
        print("rebind:  the account that uses this code replaces the member's current one")
    print(f"link:    {deep_link(username, invitation.code)}")
    return 0


def _export(args: argparse.Namespace, settings: Settings) -> int:
    """Read-only: streams from the database on its own connection while the bot may run."""
    from datetime import date

    from bot.exchange.export import ExportError, Period, export, format_for, parse_day, parse_kind
    from storage.export import ReadError

    def day(option: str, text: str | None) -> date | None:
        try:
            return parse_day(text) if text else None
        except ExportError as exc:
            raise ExportError(exc.code, f"{option} {exc}", **exc.values) from None

    try:
        kind = parse_kind(args.kind)
        period = Period(day("--since", args.since), day("--until", args.until))
        if args.with_photos:
            return _export_zip(args, settings, kind, period)
        fmt = format_for(args.output, args.fmt)
        rows = export(
            settings.storage.target,
            kind,
            period,
            fmt,
            args.output,
            settings.bot.default_language,
            now=SystemClock().now(),  # running slots are judged as of now (attendance)
        )
    except ExportError as exc:
        print(f"posko: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    except ReadError as exc:
        print(f"posko: cannot read {settings.storage.shown}: {exc}", file=sys.stderr)
        return EXIT_DATA
    print(f"{args.output}: {rows} {kind} ({fmt})")
    return 0


def _export_zip(args: argparse.Namespace, settings: Settings, kind: str, period: object) -> int:
    """``--with-photos``: the issues sheet and every photo in one zip (needs the token:
    the photos are fetched from the Bot API with getFile)."""
    from telegram import Bot

    from bot.exchange.evidence_zip import bot_fetch, export_zip
    from bot.exchange.export import ExportError, Period

    assert isinstance(period, Period)
    if kind != "issues":
        raise ExportError("kind", "--with-photos goes with issues only")
    token = settings.telegram.token
    if not token:
        raise ConfigError(
            "telegram.token: --with-photos fetches the photos from the Bot API;"
            " set POSKO_TELEGRAM__TOKEN"
        )
    file_url = settings.telegram.base_file_url or "https://api.telegram.org/file/bot"

    async def run() -> tuple[int, int, int]:
        async with Bot(token, base_url=settings.telegram.base_url, base_file_url=file_url) as bot:
            result = await export_zip(
                settings.storage.target,
                period,
                args.output,
                settings.bot.default_language,
                bot_fetch(bot),
            )
        return result.rows, result.photos, result.missing

    rows, photos, missing = asyncio.run(run())
    print(f"{args.output}: {rows} issues, {photos} photos, {missing} missing (zip)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
