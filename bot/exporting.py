"""The reports of the command line: `dvk export [--campaign CODE] [-o FILE]`, the workbook
/xuatexcel sends an admin, written to a file (progress on stderr, the path and the counts on
stdout), `dvk stats`, the figures /thongke gives, and `dvk report`, the year-end report
drafted from them."""

from __future__ import annotations

import argparse
import asyncio
import sys
import zipfile
from pathlib import Path

from docx.opc.exceptions import PackageNotFoundError

from bot.config import Settings
from bot.runtime import build_core, utc_now
from excel.export import ExportScope, export_workbook
from handlers.coordinator.export import file_name
from handlers.core.jobs import Throttle
from language import vn
from language.texts import Texts
from storage.db import Database
from storage.records.campaigns import campaign_by_code


async def export_command(
    settings: Settings, campaign_code: str | None, output: Path | None, *, throttle_every: float = 2
) -> int:
    from zoneinfo import ZoneInfo

    t = Texts(settings.language)
    timezone = ZoneInfo(settings.timezone)
    db = Database.from_url(settings.database_url, busy_timeout=settings.db_busy_timeout)
    try:
        campaign_id = None
        if campaign_code:
            async with db.session() as session:
                campaign = await campaign_by_code(session, code=campaign_code)
            if campaign is None:
                print(t("stats-no-campaign", code=campaign_code), file=sys.stderr)
                return 1
            campaign_id, campaign_code = campaign.id, campaign.code
        today = utc_now().astimezone(timezone).date()
        path = output or Path(file_name(today, campaign_code))
        # Written beside the target and renamed at the end: never a half-written file there.
        partial = path.with_name(f".{path.name}.part")
        throttle = Throttle(every=throttle_every)

        async def progress(done: int, total: int) -> None:
            if throttle.due(done / total if total else 1.0):
                text = t(
                    "export-progress", done=vn.format_number(done), total=vn.format_number(total)
                )
                print(text, file=sys.stderr, flush=True)

        try:
            async with db.read() as session:
                counts = await export_workbook(
                    session,
                    partial,
                    scope=ExportScope(campaign_id=campaign_id),
                    timezone=timezone,
                    progress=progress,
                )
            await asyncio.to_thread(partial.replace, path)
        finally:
            await asyncio.to_thread(partial.unlink, missing_ok=True)
    finally:
        await db.dispose()
    print(
        t(
            "export-written",
            path=path,
            models=vn.format_number(counts.models),
            reports=vn.format_number(counts.reports),
        )
    )
    return 0


async def print_stats(
    settings: Settings, code: str | None, years_text: str | None = None, chart: Path | None = None
) -> int:
    """`dvk stats`: the same report /thongke gives, printed; the chart written if asked for."""
    from bot.cli import EXIT_CONFIG, prepare_database, said

    if code and years_text:
        print(said("cli-stats-choose-one", language=settings.language), file=sys.stderr)
        return EXIT_CONFIG
    if not await prepare_database(settings):
        return EXIT_CONFIG
    return await stats_command(settings, code, years_text, chart)


async def stats_command(
    settings: Settings, code: str | None, years_text: str | None, chart: Path | None
) -> int:
    """`dvk stats` on a database that is up to date: the report /thongke gives, printed; the
    chart written if asked for."""
    from handlers.admin.statistics import resolve_scope, stats_chart, stats_text
    from storage.stats import organisation_stats

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
                print(core.texts("cli-stats-usage"), file=sys.stderr)
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
                print(core.texts("cli-chart-written", file=chart), file=sys.stderr)
    finally:
        await db.dispose()
    return 0


async def photos_command(settings: Settings, campaign_code: str | None, folder: Path) -> int:
    """`dvk export --photos DIR [--campaign CODE]`: the evidence photos in the layout /xuatanh
    zips (DIR/MH12/MH12_2026-11-28_1.jpg), those the media store lacks listed on stdout and in
    DIR/chua-tai-ve.txt; the counts on the last line."""
    from zoneinfo import ZoneInfo

    from bot.media_links import media_of
    from handlers.coordinator.photos import NOT_FETCHED, missing_text, save_evidence
    from storage.records.photos import evidence_photos

    t = Texts(settings.language)
    timezone = ZoneInfo(settings.timezone)
    store = media_of(settings).store
    db = Database.from_url(settings.database_url, busy_timeout=settings.db_busy_timeout)
    try:
        async with db.read() as session:
            campaign = None
            if campaign_code:
                campaign = await campaign_by_code(session, code=campaign_code)
                if campaign is None:
                    print(t("stats-no-campaign", code=campaign_code), file=sys.stderr)
                    return 1
            photos = await evidence_photos(session, campaign_id=campaign and campaign.id)
    finally:
        await db.dispose()
    throttle = Throttle(every=2)

    async def write(inside: str, content: bytes) -> None:
        await asyncio.to_thread(_write_file, folder / inside, content)

    async def progress(done: int, total: int) -> None:
        if throttle.due(done / total if total else 1.0):
            text = t("photos-progress", done=vn.format_number(done), total=vn.format_number(total))
            print(text, file=sys.stderr, flush=True)

    await asyncio.to_thread(folder.mkdir, parents=True, exist_ok=True)
    saved = await save_evidence(store, photos, timezone, write, progress)
    listing = folder / NOT_FETCHED
    if saved.missing:
        text = missing_text(t, saved.missing)
        await asyncio.to_thread(listing.write_text, text + "\n", encoding="utf-8")
        print(text)
    else:  # from an earlier export, no longer true
        await asyncio.to_thread(listing.unlink, missing_ok=True)
    models = vn.format_number(len(saved.models))
    print(
        t("cli-photos-written", photos=vn.format_number(saved.photos), models=models, folder=folder)
    )
    print(f"photos={saved.photos} models={len(saved.models)} missing={saved.missing_photos}")
    return 0


def _write_file(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)


def add_report_parser(sub: argparse._SubParsersAction) -> None:
    report = sub.add_parser(
        "report", help="draft the year-end report as a Word document (docs/year-end-report.md)"
    )
    scope = report.add_mutually_exclusive_group(required=True)
    scope.add_argument("--campaign", help="campaign code")
    scope.add_argument("--years", help="calendar years: 2026 or 2021-2023")
    report.add_argument(
        "--unit",
        help="the top-level unit issuing it (the only one when there is one): the options given "
        "are kept for it, the others read from what was kept",
    )
    report.add_argument("--committee", help="the issuing committee, e.g. 'Đảng ủy Khối …'")
    report.add_argument("--superior", help="its superior, e.g. 'Đảng bộ tỉnh Vĩnh Long'")
    report.add_argument("--place", help="the place in the date line, e.g. 'Vĩnh Long'")
    report.add_argument("--signer", help="the signer's title, e.g. 'Bí thư'")
    report.add_argument("-o", "--output", type=Path, required=True, help="the .docx to write")


async def write_report(settings: Settings, args: argparse.Namespace) -> int:
    """`dvk report`, on a database brought up to date first."""
    from bot.cli import EXIT_CONFIG, prepare_database

    if not await prepare_database(settings):
        return EXIT_CONFIG
    return await report_command(settings, args)


async def report_command(settings: Settings, args: argparse.Namespace) -> int:
    """`dvk report`: the year-end report of a campaign or of years, with the figures `dvk stats`
    gives for the same scope, written to a .docx."""
    from handlers.admin.statistics import resolve_scope, stats_chart
    from reports.yearend import Issuer, build_report, gather
    from storage.records.issuers import FIELDS, issuer_of, save_issuer, top_units
    from storage.records.units import unit_by_code

    db = Database.from_url(settings.database_url, busy_timeout=settings.db_busy_timeout)
    core = build_core(settings, db)
    t = core.texts
    given = {name: getattr(args, name) for name in FIELDS}
    try:
        async with db.read() as session:
            today = utc_now().astimezone(core.config.timezone).date()
            asked = args.campaign or args.years
            scope = await resolve_scope(session, asked, today=today)
            # --campaign is a campaign, never a year; --years is years, never a campaign.
            if (
                isinstance(scope, str)
                or (args.campaign and scope[0] is None)
                or (args.years and scope[1] is None)
            ):
                print(t("stats-no-campaign", code=asked), file=sys.stderr)
                print(t("cli-report-usage"), file=sys.stderr)
                return 1
            # The issuing unit: --unit, or the only top-level unit there is.
            unit = None
            if args.unit:
                unit = await unit_by_code(session, code=args.unit)
                if unit is None or unit.parent_id is not None:
                    print(t("cli-report-no-unit", code=args.unit), file=sys.stderr)
                    return 1
            elif len(tops := await top_units(session)) == 1:
                unit = tops[0]
            unit_id, unit_name = (unit.id, unit.name) if unit else (None, "")
            campaign, years = scope
            data = await gather(
                session,
                campaign=campaign,
                years=years,
                tz=core.config.timezone,
                unit_id=unit_id,
            )
        kept: dict[str, str | None] = {}
        if unit_id is not None:
            async with db.session() as session:
                if any(given.values()):
                    # What is given is kept for the next report, in the chat too.
                    await save_issuer(
                        session, unit_id=unit_id, values=given, by=None, now=utc_now()
                    )
                stored = await issuer_of(session, unit_id=unit_id)
                kept = {name: getattr(stored, name) for name in FIELDS} if stored else {}
            # A unit named without a committee kept or given: its own name.
            if args.unit and not kept.get("committee"):
                kept["committee"] = unit_name
    finally:
        await db.dispose()
    issuer = Issuer(*(given[name] or kept.get(name) for name in FIELDS))
    chart = await asyncio.to_thread(stats_chart, t, data.stats)
    template = settings.report_template
    try:
        document = await asyncio.to_thread(
            build_report, t, data, issuer=issuer, today=today, chart=chart, template=template
        )
    except (OSError, zipfile.BadZipFile, PackageNotFoundError) as error:
        print(t("cli-report-template-missing", file=template, reason=error), file=sys.stderr)
        return 1
    partial = args.output.with_name(f".{args.output.name}.part")
    try:
        await asyncio.to_thread(partial.write_bytes, document)
        await asyncio.to_thread(partial.replace, args.output)
    finally:
        await asyncio.to_thread(partial.unlink, missing_ok=True)
    print(t("cli-report-written", file=args.output))
    return 0
