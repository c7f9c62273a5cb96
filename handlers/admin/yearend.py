"""/baocaotongket [MÃ ĐỢT | NĂM | NĂM-NĂM]: the year-end report as a Word document, for admins,
drafted in the background (`handlers/core/jobs.py`) and sent as a file (a download link on
Zalo). The same document as `dvk report`, with the figures /thongke gives for the same scope.

Who issues it (the committee, its superior, the place, the signer's title) is not stored yet:
the chat leaves those as marked places to fill, like the sections only people write, rather
than asking four questions each time (docs/year-end-report.md)."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import date

from handlers.admin.statistics import resolve_scope, stats_chart
from handlers.core.commands import Command, Role
from handlers.core.context import Ctx
from handlers.core.jobs import Job, JobIO
from handlers.core.types import Outbound
from handlers.shared.charts import drawn
from reports.yearend import Issuer, build_report, gather
from storage.models import Campaign, Member
from storage.records.audit import add_audit_entry

JOB_KEY = "yearend"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def report_name(today: date, scope: str | None) -> str:
    """bao-cao-tong-ket-DVK26-2026-12-06.docx, bao-cao-tong-ket-2021-2023-2026-12-06.docx."""
    middle = f"{_UNSAFE.sub('-', scope).strip('-.')}-" if scope else ""
    return f"bao-cao-tong-ket-{middle}{today.isoformat()}.docx"


async def yearend_command(ctx: Ctx, args: str) -> None:
    if not await ctx.is_admin():
        ctx.say("error-not-allowed")
        return
    scope = await resolve_scope(ctx.session, args, today=ctx.today)
    if isinstance(scope, str):
        ctx.say(scope, code=args.strip()[:32])
        ctx.say("yearend-usage")
        return
    campaign, years = scope
    drafting = YearEndDraft(
        ctx.member.id,
        campaign.id if campaign else None,
        campaign.code if campaign else None,
        years,
    )
    ctx.result.jobs.append(
        Job(JOB_KEY, ctx.t("yearend-started"), ctx.t("yearend-busy"), drafting.run)
    )


@dataclass(frozen=True)
class YearEndDraft:
    member_id: int
    campaign_id: int | None
    campaign_code: str | None
    years: tuple[int, int] | None

    @property
    def scope(self) -> str | None:
        if self.years is None:
            return self.campaign_code
        first, last = self.years
        return str(first) if first == last else f"{first}-{last}"

    async def run(self, io: JobIO) -> None:
        # The rights of the moment it runs, not of the moment it was asked for.
        async with io.db.read() as session:
            member = await session.get(Member, self.member_id)
            if member is None or not member.is_admin:
                await io.deliver([Outbound(io.t("error-not-allowed"))])
                return
            campaign = None
            if self.campaign_id is not None:
                campaign = await session.get(Campaign, self.campaign_id)
            data = await gather(session, campaign=campaign, years=self.years, tz=io.config.timezone)
        today = io.clock().astimezone(io.config.timezone).date()
        chart = await drawn(stats_chart, io.t, data.stats)
        document = await asyncio.to_thread(
            build_report,
            io.t,
            data,
            issuer=Issuer(),
            today=today,
            chart=chart,
            template=io.config.report_template,
        )
        async with io.db.session() as session:
            await add_audit_entry(
                session,
                at=io.clock(),
                actor_id=self.member_id,
                action="yearend.drafted",
                details={
                    "campaign": self.campaign_code,
                    "years": self.scope if self.years else None,
                },
            )
        name = report_name(today, self.scope)
        await io.deliver([Outbound(io.t("yearend-done"), document=(name, document))])


COMMANDS = (
    Command(
        ("baocaotongket",),
        Role.ADMIN,
        lambda ctx, conv, args: yearend_command(ctx, args),
        shows=True,
    ),
)
