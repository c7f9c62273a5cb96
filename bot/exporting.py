"""`dvk export [--campaign CODE] [-o FILE]`: the workbook /xuatexcel sends an admin, written to a
file; progress on stderr, the path and the counts on stdout."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from bot.config import Settings
from bot.runtime import utc_now
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
