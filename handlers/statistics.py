"""The movement's figures as the organisers report them ("1.061 tập thể và 5.908 cá nhân"),
for admins in the chat (/thongke) and on the command line (dvk stats)."""

from __future__ import annotations

from collections.abc import Callable

from handlers import vn
from handlers.context import Ctx
from storage import queries, rules
from storage.models import Campaign
from storage.stats import OrganisationStats, organisation_stats

LEVELS = ("excellent", "done", "not_done")


def stats_text(t: Callable[..., str], stats: OrganisationStats, campaign: Campaign | None) -> str:
    n = vn.format_number
    lines = [
        t("stats-head", campaign=campaign.name) if campaign else t("stats-head-all"),
        t("stats-units", units=n(stats.units), registering=n(stats.units_registering)),
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
        lines += [f"  – {name}: {n(count)}" for name, count in stats.by_field]
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
        lines.append(
            t(
                "stats-commendations",
                levels=" · ".join(
                    t(
                        "stats-commendation-level",
                        level=t(f"commendation-{level}"),
                        decided=n(stats.commendations[level][rules.DECIDED]),
                        proposed=n(stats.commendations[level][rules.PROPOSED]),
                    )
                    for level in rules.COMMENDATION_LEVELS
                    if level in stats.commendations
                ),
            )
        )
    if stats.indicators:
        lines.append(t("stats-outcomes"))
        for item in stats.indicators:
            percent = item.achieved / item.target * 100 if item.target else 0
            lines.append(
                "  – "
                + t(
                    "stats-outcome",
                    indicator=item.name,
                    done=vn.format_amount(item.achieved),
                    target=vn.format_amount(item.target),
                    unit=item.unit,
                    percent=n(round(percent)),
                )
            )
    return "\n".join(lines)


async def show_stats(ctx: Ctx, code: str) -> None:
    if not await ctx.is_admin():
        ctx.say("error-not-allowed")
        return
    campaign = None
    if code:
        campaign = await queries.campaign_by_code(ctx.session, code=code)
        if campaign is None:
            ctx.say("stats-no-campaign", code=code[:32])
            return
    else:
        campaign = await queries.open_campaign(ctx.session, today=ctx.today)
    stats = await organisation_stats(ctx.session, campaign_id=campaign.id if campaign else None)
    ctx.result.say(stats_text(ctx.t, stats, campaign))


TEMPLATE_NAME = "mau-nhap-dan-van-kheo.xlsx"


async def send_template(ctx: Ctx) -> None:
    """/maunhap: the empty import workbook, with an example row per sheet."""
    if not await ctx.is_admin():
        ctx.say("error-not-allowed")
        return
    from handlers.types import Outbound
    from storage.workbook import template_bytes

    ctx.result.messages.append(
        Outbound(ctx.t("template-sent"), document=(TEMPLATE_NAME, template_bytes()))
    )
