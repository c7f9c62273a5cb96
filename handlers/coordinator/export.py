"""/xuatexcel [MÃĐỢT]: the movement's records as an Excel workbook in the import layout, with a
summary sheet per unit — everything for an admin, their own units (sub-units included) for a
coordinator. The workbook is made in the background (`handlers/core/jobs.py`) while the person
watches its progress; `dvk export` makes the same file on the command line."""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from excel.export import ExportScope, export_workbook
from handlers.core import jobs
from handlers.core.commands import Command, Role
from handlers.core.context import Ctx
from handlers.core.jobs import Job, JobIO
from handlers.core.types import Outbound
from language import vn
from storage.models import Member
from storage.records.audit import add_audit_entry
from storage.records.campaigns import campaign_by_code
from storage.records.units import coordinated_unit_ids

JOB_KEY = "export"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def file_name(today: date, campaign_code: str | None = None) -> str:
    """dan-van-kheo-2026-11-26.xlsx, or dan-van-kheo-DVK26-2026-11-26.xlsx for one campaign."""
    middle = f"{_UNSAFE.sub('-', campaign_code).strip('-.')}-" if campaign_code else ""
    return f"dan-van-kheo-{middle}{today.isoformat()}.xlsx"


async def asked_campaign(ctx: Ctx, args: str) -> tuple[int | None, str | None] | None:
    """The campaign an export is asked for ("/xuatexcel DVK26"): its id and code, (None, None)
    for everything; None, with the reason said, when the person may not export or there is no
    such campaign."""
    if not (await ctx.is_admin() or await ctx.is_coordinator()):
        ctx.say("error-not-allowed")
        return None
    code = args.split()[0] if args.split() else ""
    if not code:
        return None, None
    campaign = await campaign_by_code(ctx.session, code=code)
    if campaign is None:
        ctx.say("stats-no-campaign", code=code[:32])
        return None
    return campaign.id, campaign.code


async def export_command(ctx: Ctx, args: str) -> None:
    asked = await asked_campaign(ctx, args)
    if asked is None:
        return
    export = ChatExport(ctx.member.id, *asked)
    await jobs.start(ctx, Job(JOB_KEY, ctx.t("export-started"), ctx.t("export-busy"), export.run))


@dataclass(frozen=True)
class ChatExport:
    member_id: int
    campaign_id: int | None
    campaign_code: str | None

    async def run(self, io: JobIO) -> None:
        # The rights of the moment it runs, not of the moment it was asked for.
        async with io.db.session() as session:
            scope = await scope_of(session, self.member_id, self.campaign_id)
        if scope is None:
            await io.deliver([Outbound(io.t("error-not-allowed"))])
            return
        today = io.clock().astimezone(io.config.timezone).date()
        name = file_name(today, self.campaign_code)

        async def progress(done: int, total: int) -> None:
            text = io.t(
                "export-progress", done=vn.format_number(done), total=vn.format_number(total)
            )
            await io.progress(text, done / total if total else 1.0)

        with tempfile.TemporaryDirectory(prefix="dvk-export-") as folder:
            path = Path(folder) / name
            async with io.db.read() as session:
                counts = await export_workbook(
                    session, path, scope=scope, timezone=io.config.timezone, progress=progress
                )
            async with io.db.session() as session:
                await add_audit_entry(
                    session,
                    at=io.clock(),
                    actor_id=self.member_id,
                    action="export.created",
                    details={
                        "campaign": self.campaign_code,
                        "units": None if scope.unit_ids is None else len(scope.unit_ids),
                        "models": counts.models,
                        "reports": counts.reports,
                    },
                )
            done = io.t(
                "export-done",
                models=vn.format_number(counts.models),
                reports=vn.format_number(counts.reports),
            )
            # Sent while the file still exists: the folder goes when the block ends.
            await io.deliver([Outbound(done, document_file=(name, path))])


async def scope_of(
    session: AsyncSession, member_id: int, campaign_id: int | None
) -> ExportScope | None:
    """What a person may export now: everything (admin), their units and the units below them
    (coordinator), or nothing (None)."""
    member = await session.get(Member, member_id)
    if member is None:
        return None
    if member.is_admin:
        return ExportScope(campaign_id=campaign_id)
    units = await coordinated_unit_ids(session, member_id=member_id)
    if not units:
        return None
    return ExportScope(campaign_id=campaign_id, unit_ids=frozenset(units))


COMMANDS = (
    Command(
        ("xuatexcel",), Role.STAFF, lambda ctx, conv, args: export_command(ctx, args), shows=True
    ),
)
