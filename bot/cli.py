"""The `dvk` command line."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from pathlib import Path

from pydantic import ValidationError

from bot.config import Settings
from bot.runtime import build_core, utc_now
from storage.db import Database
from storage.migrate import pending, upgrade

EXIT_CONFIG = 2
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
        "export",
        "import",
        "digest",
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
            print(f"{name}: {problem['msg']}", file=sys.stderr)
        return EXIT_CONFIG
    match args.command:
        case "run":
            return run_telegram(settings)
        case "start":
            if settings.token_problem() is None or settings.zalo_configured():
                return run_telegram(settings)
            return asyncio.run(demo_chat(settings))
        case "chat":
            return asyncio.run(chat(settings, args.person, args.channel))
        case "db":
            asyncio.run(migrate(settings.database_url))
            print("database is up to date")
            return 0
        case "demo-seed":
            return asyncio.run(demo_seed(settings.database_url))
        case "template":
            from excel.layout import template_bytes
            from language.texts import Texts

            args.file.write_bytes(template_bytes(Texts(settings.language)))
            print(f"written: {args.file}")
            return 0
        case "digest":
            return asyncio.run(digests_now(settings, args.person))
        case "stats":
            return asyncio.run(print_stats(settings, args.campaign, args.years, args.chart))
        case "units":
            from bot.importing import import_units_command

            return asyncio.run(import_units_command(settings, args.file))
        case "import":
            from bot.importing import import_workbook_command
            from excel.limits import WorkbookLimits

            limits = WorkbookLimits().raised(args.max_unpacked_mb)
            return asyncio.run(import_workbook_command(settings, args.file, limits))
        case "export":
            return asyncio.run(export_workbook(settings, args.campaign, args.output))
        case "doctor":
            return asyncio.run(doctor(settings, fix=args.fix))
    return 1


async def export_workbook(settings: Settings, campaign: str | None, output: Path | None) -> int:
    from bot.exporting import export_command

    if not await prepare_database(settings):
        return EXIT_CONFIG
    return await export_command(settings, campaign, output)


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
    """`dvk doctor [--fix]`: the records to repair, then their counts as key=value."""
    from handlers.core import buttons
    from handlers.core.notify import payload
    from handlers.core.types import Choice
    from storage import doctor as checks
    from storage.models import Model
    from storage.records.models import model_code

    if not await prepare_database(settings):
        return EXIT_CONFIG
    db = Database.from_url(settings.database_url, busy_timeout=settings.db_busy_timeout)
    core = build_core(settings, db)
    t, now = core.texts, utc_now()

    def notice(model: Model) -> dict[str, object]:
        text = t("registration-back-to-draft", title=model.title, code=model_code(model))
        return payload(text, [[Choice(t("button-edit-resubmit"), buttons.RESUBMIT(model.id))]])

    try:
        async with db.session() as session:
            found = await checks.examine(session)
            for line in checks.describe(found):
                print(line)
            counts = found.counts()
            if fix:
                not_before = core.config.quiet_hours.next_allowed(
                    now.astimezone(core.config.timezone)
                )
                counts = await checks.repair(
                    session, found, now=now, not_before=not_before, notice=notice
                )
    finally:
        await db.dispose()
    pairs = {"mode": "fix" if fix else "check", **counts}
    print(" ".join(f"{key}={value}" for key, value in pairs.items()))
    return 0


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
            print(
                "The database schema is not up to date: run `dvk db upgrade` first.",
                file=sys.stderr,
            )
            return False
    finally:
        await db.dispose()
    return True


def run_telegram(settings: Settings) -> int:
    problem = settings.token_problem()
    # Zalo alone is a configuration too; a Telegram token that is set but wrong never is.
    if problem is not None and not (problem == "missing" and settings.zalo_configured()):
        print(
            f"DVK_TELEGRAM_TOKEN is {problem}: set it in the environment or in .env to the token "
            "@BotFather gave you (like 123456789:AAH...). To try the bot without Telegram: "
            "dvk chat",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    if problem is None and settings.webhook_url and not settings.webhook_secret:
        print(
            "DVK_WEBHOOK_URL is set but DVK_WEBHOOK_SECRET is not: a webhook without a secret "
            "would accept updates from anyone. Set DVK_WEBHOOK_SECRET (1-256 of A-Z a-z 0-9 _ -).",
            file=sys.stderr,
        )
        return EXIT_CONFIG
    if not asyncio.run(prepare_database(settings)) or asyncio.run(holds_demo_invites(settings)):
        return EXIT_CONFIG
    from bot import telegram_run

    db = Database.from_url(settings.database_url, busy_timeout=settings.db_busy_timeout)
    return telegram_run.run(settings, build_core(settings, db))


async def holds_demo_invites(settings: Settings) -> bool:
    """Whether the database still has the demo's invites, which anyone who read the README can
    use (DEMO-PT makes a coordinator): said on stderr."""
    from bot.demo import live_demo_invites

    db = Database.from_url(settings.database_url, busy_timeout=settings.db_busy_timeout)
    try:
        async with db.session() as session:
            codes = await live_demo_invites(session)
    finally:
        await db.dispose()
    if not codes:
        return False
    quoted = ", ".join(f"'{code}'" for code in codes)
    print(
        f"The database (DVK_DATABASE_URL) holds the demo's invites {', '.join(codes)} from "
        "`dvk demo-seed`: anyone can join with them, DEMO-PT as a coordinator. Run the bot on a "
        "database of its own, or revoke them first: "
        f"UPDATE invites SET revoked = true WHERE code IN ({quoted});",
        file=sys.stderr,
    )
    return True


async def demo_seed(url: str, *, own_database: bool = False) -> int:
    """Seed the demo, but never into a database with other people in it: its invites are
    public. `own_database`: the terminal demo's own file, which only the demo writes."""
    from bot.demo import people_besides_demo, seed

    db = Database.from_url(url)
    try:
        others = 0 if own_database else await people_besides_demo(db)
        if others:
            print(
                f"Not seeding: the database (DVK_DATABASE_URL) has {others} "
                f"{'person' if others == 1 else 'people'} besides the "
                "demo's, and the demo adds invites anyone can use (DEMO-PT makes a coordinator). "
                "Seed an empty database of its own, e.g. "
                "DVK_DATABASE_URL=sqlite+aiosqlite:///data/demo-try.sqlite3 dvk demo-seed",
                file=sys.stderr,
            )
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
    print("created: " + (", ".join(created) if created else "nothing (already seeded)"))
    print("try: dvk chat --as an   (member)   |   --as phutrach (coordinator)   |   --as admin")
    print("     dvk chat --as someone-new, then /start DEMO-TV to join through an invite")
    return 0


async def print_stats(
    settings: Settings, code: str | None, years_text: str | None = None, chart: Path | None = None
) -> int:
    """`dvk stats`: the same report /thongke gives, printed; the chart written if asked for."""
    from handlers.admin.statistics import resolve_scope, stats_chart, stats_text
    from storage.stats import organisation_stats

    if code and years_text:
        print("--campaign and --years: choose one", file=sys.stderr)
        return EXIT_CONFIG
    if not await prepare_database(settings):
        return EXIT_CONFIG
    db = Database.from_url(settings.database_url, busy_timeout=settings.db_busy_timeout)
    core = build_core(settings, db)
    try:
        async with db.session() as session:
            today = utc_now().astimezone(core.config.timezone).date()
            scope = await resolve_scope(session, code or years_text or "", today=today)
            # --campaign is a campaign, never a year; --years is years, never a campaign.
            if (
                isinstance(scope, str)
                or (code and scope[0] is None)
                or (years_text and scope[1] is None)
            ):
                print(core.texts("stats-no-campaign", code=code or years_text), file=sys.stderr)
                print(core.texts("stats-usage"), file=sys.stderr)
                return 1
            campaign, years = scope
            stats = await organisation_stats(
                session,
                campaign_id=campaign.id if campaign else None,
                years=years,
                tz=core.config.timezone,
            )
        print(stats_text(core.texts, stats, campaign, years))
        if chart is not None:
            picture = stats_chart(core.texts, stats)
            if picture is not None:
                await asyncio.to_thread(chart.write_bytes, picture)
                print(f"chart: {chart}", file=sys.stderr)
    finally:
        await db.dispose()
    return 0


async def chat(settings: Settings, person: str, looks: str = "terminal") -> int:
    from bot.terminal import TerminalChat

    if not await prepare_database(settings):
        return EXIT_CONFIG
    db = Database.from_url(settings.database_url, busy_timeout=settings.db_busy_timeout)
    try:
        terminal = TerminalChat(build_core(settings, db), person, print, looks)
        print(
            f"dvk chat — as «{person}». Type /help; a number picks an option (#N where the "
            "answer itself is a number); «quay lại», «bỏ qua», «hủy» are words; @PATH sends a "
            "file (/nhapexcel); /thoat or Ctrl-D to quit."
        )
        await terminal.run(sys.stdin, lambda: print("> ", end="", flush=True))
    finally:
        await db.dispose()
    return 0


async def demo_chat(settings: Settings) -> int:
    print(
        "No Telegram token (DVK_TELEGRAM_TOKEN) set: starting the terminal chat on a demo "
        "database (data/demo.sqlite3).\nTo connect Telegram: create a bot with @BotFather, put "
        "DVK_TELEGRAM_TOKEN=<token> and DVK_ADMIN_IDS=<your Telegram id> in .env, and run again.\n"
    )
    await demo_seed(DEMO_DATABASE, own_database=True)
    return await chat(settings.model_copy(update={"database_url": DEMO_DATABASE}), "an")


if __name__ == "__main__":
    raise SystemExit(main())
