"""The `dvk` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from pydantic import ValidationError

from bot.config import SettingProblem, Settings
from bot.demo import PEOPLE_BY_ROLE as DEMO_PEOPLE
from bot.exporting import add_report_parser, print_stats, write_report
from bot.runtime import build_core, utc_now
from language.texts import DEFAULT_LANGUAGE, Texts, languages
from storage.db import Database
from storage.migrate import pending, upgrade

EXIT_CONFIG = 2


def configured_language() -> str:
    """DVK_LANGUAGE as the environment gives it, for what is said before (or without) settings
    that could be read: the catalog's default when it names no catalog."""
    chosen = os.environ.get("DVK_LANGUAGE", DEFAULT_LANGUAGE)
    return chosen if chosen in languages() else DEFAULT_LANGUAGE


def said(key: str, *, language: str | None = None, **params: object) -> str:
    """A message of the command line, from the catalog like everything people read."""
    return Texts(language or configured_language())(key, **params)


DEMO_DATABASE = "sqlite+aiosqlite:///data/demo.sqlite3"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dvk", description='Bot for the "Dân vận khéo" emulation movement.'
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser(
        "run",
        help="run every configured channel: Telegram (polling, or webhook if DVK_WEBHOOK_URL) "
        "and Zalo (polling, or webhook with DVK_PUBLIC_URL and DVK_ZALO_WEBHOOK_SECRET) when "
        "DVK_ZALO_TOKEN is set",
    )
    sub.add_parser(
        "start",
        help="quick start: the Telegram bot if DVK_TELEGRAM_TOKEN is set, "
        "otherwise the terminal chat on a demo database",
    )
    chat = sub.add_parser("chat", help="chat with the bot in the terminal")
    chat.add_argument("--as", dest="person", default="ban", help="who you are (created if new)")
    chat.add_argument(
        "--channel",
        choices=("terminal", "zalo"),
        default="terminal",
        help="show what a user of this channel sees (zalo: 2,000 characters, no files)",
    )
    db = sub.add_parser("db", help="database maintenance")
    db.add_argument("action", choices=["upgrade"], help="apply all migrations")
    sub.add_parser("demo-seed", help="fill the database with demo units, people and invites")
    template = sub.add_parser("template", help="write the empty import workbook (as /maunhap)")
    template.add_argument("file", nargs="?", type=Path, default=Path("mau-nhap-dan-van-kheo.xlsx"))
    stats = sub.add_parser("stats", help="the movement's figures, as /thongke shows them")
    stats.add_argument("--campaign", help="campaign code (default: the campaign open today)")
    stats.add_argument("--years", help="calendar years instead of a campaign: 2026 or 2021-2025")
    stats.add_argument("--chart", type=Path, help="also write the chart (PNG) to this file")
    add_report_parser(sub)
    units = sub.add_parser("units", help="manage units")
    units_sub = units.add_subparsers(dest="units_command", required=True)
    units_import = units_sub.add_parser("import", help="import units from .xlsx or .csv")
    units_import.add_argument("file", type=Path)
    workbook_import = sub.add_parser(
        "import", help="import paper records from an .xlsx workbook (as /nhapexcel)"
    )
    workbook_import.add_argument("file", type=Path)
    workbook_import.add_argument(
        "--max-unpacked-mb",
        type=int,
        metavar="N",
        help="let the workbook unpack to N MB, rows in proportion (default: 256 MB, 500000 rows)",
    )
    export = sub.add_parser(
        "export", help="write every record to an Excel workbook (as /xuatexcel)"
    )
    export.add_argument("--campaign", help="only this campaign (code)")
    export.add_argument(
        "-o", "--output", type=Path, help="file to write (default: dan-van-kheo-YYYY-MM-DD.xlsx)"
    )
    export.add_argument(
        "--photos", type=Path, metavar="DIR", help="the evidence photos instead, into DIR/MH12/"
    )
    media = sub.add_parser("media", help="the media store (evidence photos)")
    media.add_argument(
        "action", choices=["fetch"], help="download photos kept only as Telegram file ids"
    )
    digest = sub.add_parser(
        "digest", help="send digests now, schedules unchanged (as /tomtat's «Gửi ngay»)"
    )
    digest.add_argument("--now", action="store_true", required=True, help="at once")
    digest.add_argument(
        "person",
        nargs="?",
        help="a member id, telegram:<id> or zalo:<id>, or part of a name "
        "(default: every admin and coordinator whose digest is on)",
    )
    erase = sub.add_parser(
        "erase", help="erase people's personal data by member id, as /xoadulieu (after a restore)"
    )
    erase.add_argument("member_ids", nargs="+", type=int, metavar="MEMBER_ID")
    doctor = sub.add_parser(
        "doctor",
        help="report what earlier faults left in the data (registrations that never reached the "
        "coordinators, messages for people who blocked the bot, invites that should be revoked)",
    )
    doctor.add_argument("--fix", action="store_true", help="repair it, in one transaction")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # The terminal chat shares the screen with the log: keep the log to warnings there.
    quiet = args.command in (
        "chat",
        "start",
        "demo-seed",
        "units",
        "stats",
        "report",
        "export",
        "import",
        "digest",
        "media",
    )
    logging.basicConfig(
        level=logging.WARNING if quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)
    try:
        settings = Settings()
    except ValidationError as error:
        for problem in error.errors():
            name = "_".join(str(part) for part in problem["loc"]).upper()
            name = name if name.startswith("DVK_") else f"DVK_{name}"  # aliases are whole
            error = problem.get("ctx", {}).get("error")
            if isinstance(error, SettingProblem):
                reason = said(error.key, **error.params)
            else:  # pydantic's own (a number that is not one, say)
                reason = str(problem["msg"]).removeprefix("Value error, ")
            print(said("cli-setting-invalid", name=name, reason=reason), file=sys.stderr)
        return EXIT_CONFIG
    demo = trying_it(settings) and args.command not in ("run", "start", "template")
    if demo:
        # Nothing configured yet: every command works on the demo the quick start filled.
        settings = settings.model_copy(update={"database_url": DEMO_DATABASE})
        path = settings.sqlite_path()
        print(Texts(settings.language)("terminal-demo-database", path=path), file=sys.stderr)
        if args.command != "demo-seed" and asyncio.run(
            demo_seed(DEMO_DATABASE, own_database=True, quiet=True)
        ):
            return EXIT_CONFIG
    try:
        return _command(args, settings, demo)
    except KeyboardInterrupt:  # Ctrl-C while the terminal chat was busy: it just ends
        print()
        return 0


def trying_it(settings: Settings) -> bool:
    """No token for any channel and no database named: someone trying the bot after the quick
    start, whose commands use the demo database (never `dvk run`, which needs a token)."""
    named = "database_url" in settings.model_fields_set
    return not named and settings.token_problem() == "missing" and not settings.zalo_configured()


def _command(args: argparse.Namespace, settings: Settings, demo: bool) -> int:
    match args.command:
        case "run":
            return run_telegram(settings)
        case "start":
            if settings.token_problem() is None or settings.zalo_configured():
                return run_telegram(settings)
            return asyncio.run(demo_chat(settings))
        case "chat":
            person = DEMO_PEOPLE.get(args.person, args.person) if demo else args.person
            return asyncio.run(chat(settings, person, args.channel))
        case "db":
            asyncio.run(migrate(settings.database_url))
            print(said("cli-db-up-to-date", language=settings.language))
            return 0
        case "demo-seed":
            return asyncio.run(demo_seed(settings.database_url, own_database=demo))
        case "template":
            from excel.layout import template_bytes
            from language.texts import Texts

            args.file.write_bytes(template_bytes(Texts(settings.language)))
            print(said("cli-written", language=settings.language, file=args.file))
            return 0
        case "digest":
            return asyncio.run(digests_now(settings, args.person))
        case "stats":
            return asyncio.run(print_stats(settings, args.campaign, args.years, args.chart))
        case "report":
            return asyncio.run(write_report(settings, args))
        case "units":
            from bot.importing import import_units_command

            return asyncio.run(import_units_command(settings, args.file))
        case "import":
            from bot.importing import import_workbook_command
            from excel.limits import WorkbookLimits

            limits = WorkbookLimits().raised(args.max_unpacked_mb)
            return asyncio.run(import_workbook_command(settings, args.file, limits))
        case "export":
            return asyncio.run(export_workbook(settings, args.campaign, args.output, args.photos))
        case "media":
            return asyncio.run(fetch_media(settings))
        case "doctor":
            return asyncio.run(doctor(settings, fix=args.fix))
        case "erase":
            return asyncio.run(erase(settings, args.member_ids))
    return 1


async def export_workbook(
    settings: Settings, campaign: str | None, output: Path | None, photos: Path | None = None
) -> int:
    from bot.exporting import export_command, photos_command

    if not await prepare_database(settings):
        return EXIT_CONFIG
    if photos is not None:
        return await photos_command(settings, campaign, photos)
    return await export_command(settings, campaign, output)


async def fetch_media(settings: Settings) -> int:
    from bot.telegram.backfill import fetch_command

    if not await prepare_database(settings):
        return EXIT_CONFIG
    return await fetch_command(settings)


async def digests_now(settings: Settings, person: str | None) -> int:
    """`dvk digest --now [PERSON]`: queue digests at once; the running bot's outbox sends them."""
    from bot.schedules import digests_now as queue_now
    from storage.records.people import staff_matching

    if not await prepare_database(settings):
        return EXIT_CONFIG
    db = Database.from_url(settings.database_url, busy_timeout=settings.db_busy_timeout)
    core = build_core(settings, db)
    try:
        async with db.read() as session:
            found = [(m.id, m.full_name) for m in await staff_matching(session, person)]
        if person is not None and len(found) != 1:
            names = ", ".join(f"{name} ({number})" for number, name in found[:10])
            key = "digest-cli-many" if found else "digest-cli-nobody"
            print(core.texts(key, person=person, names=names), file=sys.stderr)
            return 1
        queued = await queue_now(core, [number for number, _ in found])
        print(core.texts("digest-cli-queued", count=queued))
    finally:
        await db.dispose()
    return 0


async def doctor(settings: Settings, *, fix: bool) -> int:
    from bot.ops.doctor import doctor_command

    if not await prepare_database(settings):
        return EXIT_CONFIG
    return await doctor_command(settings, fix=fix)


async def erase(settings: Settings, member_ids: list[int]) -> int:
    from bot.ops.erase import erase_command

    if not await prepare_database(settings):
        return EXIT_CONFIG
    return await erase_command(settings, member_ids)


async def migrate(url: str) -> None:
    db = Database.from_url(url)
    try:
        await upgrade(db.engine)
    finally:
        await db.dispose()


async def prepare_database(settings: Settings) -> bool:
    """SQLite is migrated on start; a shared server database is migrated by `dvk db upgrade`
    on purpose (one deliberate step, not every replica at once), so here it is only checked."""
    if settings.sqlite_path() is not None:
        await migrate(settings.database_url)
        return True
    db = Database.from_url(settings.database_url, busy_timeout=settings.db_busy_timeout)
    try:
        if await pending(db.engine):
            print(said("cli-schema-old", language=settings.language), file=sys.stderr)
            return False
    finally:
        await db.dispose()
    return True


def run_telegram(settings: Settings) -> int:
    from bot.ops.runlock import AlreadyServed, serving

    problem = settings.token_problem()
    # Zalo alone is a configuration too; a Telegram token that is set but wrong never is.
    if problem is not None and not (problem == "missing" and settings.zalo_configured()):
        print(said(f"cli-token-{problem}", language=settings.language), file=sys.stderr)
        return EXIT_CONFIG
    if problem is None and settings.webhook_url and not settings.webhook_secret:
        print(said("cli-webhook-no-secret", language=settings.language), file=sys.stderr)
        return EXIT_CONFIG
    try:
        with serving(settings.sqlite_path()):  # held until the bot stops (bot/ops/runlock.py)
            return _run(settings)
    except AlreadyServed as served:
        text = said(
            "cli-already-running",
            language=settings.language,
            path=served.database,
            pid=served.holder or "?",
        )
        print(text, file=sys.stderr)
        return EXIT_CONFIG


def _run(settings: Settings) -> int:
    from bot import telegram_run
    from bot.demo import demo_invites_left

    if not asyncio.run(prepare_database(settings)):
        return EXIT_CONFIG
    left = asyncio.run(demo_invites_left(settings))
    if left:
        print(said("cli-demo-invites", language=settings.language, **left), file=sys.stderr)
        return EXIT_CONFIG
    db = Database.from_url(
        settings.database_url,
        busy_timeout=settings.db_busy_timeout,
        pool_size=settings.db_pool_size,
    )
    return telegram_run.run(settings, build_core(settings, db))


async def demo_seed(url: str, *, own_database: bool = False, quiet: bool = False) -> int:
    """Seed the demo, but never into a database with other people in it: its invites are
    public. `own_database`: the terminal demo's own file, which only the demo writes. `quiet`:
    nothing said when it was seeded already."""
    from bot.demo import people_besides_demo, seed

    db = Database.from_url(url)
    try:
        others = 0 if own_database else await people_besides_demo(db)
        if others:
            print(said("cli-demo-not-seeding", others=others), file=sys.stderr)
            return EXIT_CONFIG
        await upgrade(db.engine)
        core = build_core(Settings(database_url=url), db)
        now = utc_now()
        async with db.session() as session:
            created = await seed(
                session, now=now, today=now.astimezone(core.config.timezone).date()
            )
    finally:
        await db.dispose()
    if created or not quiet:
        # Quiet: seeded on the way to another command, whose own output stays alone on stdout.
        out = sys.stderr if quiet else sys.stdout
        t = Texts(configured_language())
        # "unit DUK" -> "đơn vị DUK": what was made, named in the reader's language.
        made = [
            t(f"cli-demo-kind-{kind}", code=code)
            for kind, _, code in (item.partition(" ") for item in created)
        ]
        told = t("cli-demo-created", items=", ".join(made)) if made else t("cli-demo-seeded")
        print(told, file=out)
        # The names `--as admin | coordinator | member` stand for in the demo's own database;
        # in one named by DVK_DATABASE_URL the people go by their own.
        print(t("terminal-demo-try" if own_database else "terminal-demo-try-named"), file=out)
    return 0


async def chat(settings: Settings, person: str, looks: str = "terminal") -> int:
    from bot.terminal import Keyboard, TerminalChat

    if not await prepare_database(settings):
        return EXIT_CONFIG
    # Ctrl-C ends the chat at once, at the prompt or while the bot answers (main() catches it),
    # rather than asyncio's first Ctrl-C cancelling the task behind a blocked prompt.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    db = Database.from_url(settings.database_url, busy_timeout=settings.db_busy_timeout)
    keyboard = Keyboard()
    try:
        core = build_core(settings, db)
        terminal = TerminalChat(core, person, print, looks)
        help_line = "terminal-help-zalo" if looks == "zalo" else "terminal-help"
        print(core.texts(help_line, person=person))
        await terminal.run(keyboard)
    finally:
        keyboard.close()
        await db.dispose()
    return 0


async def demo_chat(settings: Settings) -> int:
    print(said("cli-demo-start", language=settings.language) + "\n")
    await demo_seed(DEMO_DATABASE, own_database=True)
    return await chat(settings.model_copy(update={"database_url": DEMO_DATABASE}), "an")


if __name__ == "__main__":
    raise SystemExit(main())
