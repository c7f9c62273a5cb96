"""The movement's figures as the organisers report them ("1.061 tập thể và 5.908 cá nhân"),
for admins in the chat (/thongke) and on the command line (dvk stats)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.core import jobs
from handlers.core.commands import Command, Role
from handlers.core.context import Ctx
from handlers.core.jobs import Job, JobIO
from handlers.core.types import Outbound
from handlers.shared.charts import drawn, fields_chart
from handlers.shared.views import indicator_line
from language import vn
from storage import rules
from storage.models import Campaign
from storage.records.campaigns import campaign_by_code, open_campaign
from storage.stats import OrganisationStats, organisation_stats

LEVELS = ("excellent", "done", "not_done")
JOB_KEY = "stats"


RANKED = 3  # units shown at the top and at the bottom of the ranking
YEARS_RE = re.compile(r"(?P<first>\d{4})(?:\s*[-–]\s*(?P<last>\d{4}))?")


def parse_years(text: str) -> tuple[int, int] | None:
    """ "2026" or "2021-2025" (either order); None if the text is not a year range."""
    match = YEARS_RE.fullmatch(text.strip())
    if match is None:
        return None
    first = int(match["first"])
    last = int(match["last"] or first)
    first, last = min(first, last), max(first, last)
    return (first, last) if first >= 1900 and last <= 2200 else None


def stats_heading(
    t: Callable[..., str], campaign: Campaign | None, years: tuple[int, int] | None
) -> str:
    if campaign is not None:
        return t("stats-head", campaign=campaign.name)
    if years is not None:
        first, last = years
        return t("stats-head-years", years=str(first) if first == last else f"{first}–{last}")
    return t("stats-head-all")


def stats_text(
    t: Callable[..., str],
    stats: OrganisationStats,
    campaign: Campaign | None,
    years: tuple[int, int] | None = None,
) -> str:
    n = vn.format_number

    def kinds(collective: int, individual: int) -> str:
        """ "3 tập thể, 1 cá nhân", "3 cá nhân", or "0": no "0 tập thể" to read past."""
        parts = [
            t(key, count=n(count))
            for key, count in (
                ("stats-kind-collective", collective),
                ("stats-kind-individual", individual),
            )
            if count
        ]
        return ", ".join(parts) or n(0)

    lines = [
        stats_heading(t, campaign, years),
        t("stats-units", units=n(stats.units), registering=n(stats.units_registering)),
        t("stats-conferences", held=n(stats.units_conference), units=n(stats.units)),
        t(
            "stats-registrations",
            collective=n(stats.by_kind[rules.KIND_COLLECTIVE]),
            individual=n(stats.by_kind[rules.KIND_INDIVIDUAL]),
        ),
    ]
    if stats.by_status:
        lines.append(
            "• "
            + " · ".join(
                f"{t(f'status-{status}')}: {n(stats.by_status[status])}"
                for status in rules.STATUSES
                if stats.by_status[status]
            )
        )
    if stats.by_field:
        lines.append(t("stats-fields"))
        lines += [
            "  – "
            + t(
                "stats-field",
                name=name,
                total=n(collective + individual),
                kinds=kinds(collective, individual),
            )
            for name, collective, individual in stats.by_field
        ]
    # Ranking units means something only once something was registered.
    ranking = stats.unit_ranking if stats.units_registering else []
    if ranking:
        shown = min(RANKED, (len(ranking) + 1) // 2)
        groups = [("stats-units-top", ranking[:shown])]
        if len(ranking) > 1:
            groups.append(
                ("stats-units-bottom", ranking[-min(shown, len(ranking) - shown) :][::-1])
            )
        for key, ranks in groups:
            lines.append(t(key))
            lines += [
                "  – "
                + t(
                    "stats-unit-rank",
                    name=rank.name,
                    registrations=n(rank.registrations),
                    members=n(rank.members),
                )
                for rank in ranks
            ]
    if stats.units_registering and stats.units_unranked:
        lines.append(t("stats-units-unranked", count=n(stats.units_unranked)))
    lines.append(t("stats-reports", reports=n(stats.reports), late=n(stats.late_reports)))
    if stats.evaluations:
        lines.append(
            t(
                "stats-evaluations",
                levels=" · ".join(
                    f"{t(f'evaluation-{level}')}: {n(stats.evaluations[level])}"
                    for level in LEVELS
                    if stats.evaluations[level]
                ),
                proposed=n(stats.proposed),
            )
        )
    if stats.commendations:
        lines.append(t("stats-commendations"))
        for level in rules.COMMENDATION_LEVELS:
            counts = stats.commendations.get(level)
            if not counts:
                continue
            lines.append(
                "  – "
                + t(
                    "stats-commendation-level",
                    level=t(f"commendation-{level}"),
                    decided=kinds(
                        counts[(rules.DECIDED, rules.KIND_COLLECTIVE)],
                        counts[(rules.DECIDED, rules.KIND_INDIVIDUAL)],
                    ),
                    proposed=kinds(
                        counts[(rules.PROPOSED, rules.KIND_COLLECTIVE)],
                        counts[(rules.PROPOSED, rules.KIND_INDIVIDUAL)],
                    ),
                )
            )
    if stats.indicators:
        lines.append(t("stats-outcomes"))
        lines += [indicator_line(t, item, bullet="  –") for item in stats.indicators]
    return "\n".join(lines)


def stats_chart(t: Callable[..., str], stats: OrganisationStats) -> bytes | None:
    """Registrations by field, collectives and individuals stacked; None when there are none."""
    if not stats.by_field:
        return None
    return fields_chart(
        stats.by_field,
        title=t("stats-chart-title"),
        collective=t("kind-collective"),
        individual=t("kind-individual"),
    )


async def resolve_scope(
    session: AsyncSession, argument: str, *, today: date
) -> tuple[Campaign | None, tuple[int, int] | None] | str:
    """What a /thongke argument asks for: a campaign by code, a year range, or (empty) the
    campaign open today. A message key when it is neither."""
    argument = argument.strip()
    if not argument:
        return await open_campaign(session, today=today), None
    if len(argument) <= 32:
        campaign = await campaign_by_code(session, code=argument)
        if campaign is not None:
            return campaign, None
    years = parse_years(argument)
    if years is not None:
        return None, years
    return "stats-no-campaign"


async def show_stats(ctx: Ctx, argument: str) -> None:
    """/thongke: the scope is read at once (a wrong one said at once); the figures and their
    chart are a background job (`handlers/core/jobs.py`), so a country's worth of records
    holds up no one, the admin included."""
    if not await ctx.is_admin():
        ctx.say("error-not-allowed")
        return
    scope = await resolve_scope(ctx.session, argument, today=ctx.today)
    if isinstance(scope, str):
        ctx.say(scope, code=argument[:32])
        ctx.say("stats-usage")
        return
    campaign, years = scope
    work = StatsJob(ctx.member.id, campaign.id if campaign else None, years)
    await jobs.start(ctx, Job(JOB_KEY, ctx.t("stats-started"), ctx.t("stats-busy"), work.run))


@dataclass(frozen=True)
class StatsJob:
    member_id: int
    campaign_id: int | None
    years: tuple[int, int] | None

    async def run(self, io: JobIO) -> None:
        async with io.db.read() as session:
            if not await io.admin_now(session, self.member_id):
                return
            campaign = await session.get(Campaign, self.campaign_id) if self.campaign_id else None
            stats = await organisation_stats(
                session, campaign_id=self.campaign_id, years=self.years, tz=io.config.timezone
            )
            text = stats_text(io.t, stats, campaign, self.years)
        await io.progress(io.t("stats-drawing"), 0.5)
        await io.deliver([Outbound(text, photo=await drawn(stats_chart, io.t, stats))])


TEMPLATE_NAME = "mau-nhap-dan-van-kheo.xlsx"


async def send_template(ctx: Ctx) -> None:
    """/maunhap: the import workbook to fill, its examples on an instructions sheet."""
    if not await ctx.is_admin():
        ctx.say("error-not-allowed")
        return
    from excel.layout import template_bytes

    ctx.result.messages.append(
        Outbound(ctx.t("template-sent"), document=(TEMPLATE_NAME, template_bytes(ctx.t)))
    )


COMMANDS = (
    Command(("thongke",), Role.ADMIN, lambda ctx, conv, args: show_stats(ctx, args), shows=True),
)
