"""What several roles read about the same records, said the same way: a model's details (its
owner, its reviewers, the admins), its progress against its targets, a report's answers, a
reporting period's name and an outcome against its target."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from handlers.core.context import Ctx
from handlers.shared import questions
from language import vn
from storage import rules
from storage.models import Model, Report
from storage.periods import Period
from storage.records.reports import target_totals
from storage.stats import Indicator


def model_lines(ctx: Ctx, model: Model) -> list[str]:
    """A model's details, as the owner and the reviewers see them."""
    t = ctx.t
    lines = [
        t("model-head", title=model.title),
        f"• {t('label-status')}: {t(f'status-{model.status}')}",
        f"• {t('label-campaign')}: {model.campaign.name}",
        f"• {t('label-kind')}: {t(f'kind-{model.kind}')}",
    ]
    if model.kind == rules.KIND_COLLECTIVE:
        lines.append(f"• {t('label-collective-name')}: {model.collective_name}")
        lines.append(f"• {t('label-headcount')}: {vn.format_number(model.headcount or 0)}")
    lines += [
        f"• {t('label-field')}: {model.field.name}",
        f"• {t('label-approach')}:\n{model.approach}",
        f"• {t('label-objectives')}:\n{model.objectives}",
        f"• {t('label-targets')}:",
    ]
    lines += [
        f"  {target.position}. {target.indicator} · {target.unit_of_measure} · "
        f"{vn.format_number(target.target_value)}"
        for target in model.targets
    ]
    period = f"{vn.format_date(model.starts_on)} – {vn.format_date(model.ends_on)}"
    lines.append(f"• {t('label-period')}: {period}")
    lines += questions.detail_lines(
        model.campaign.questions, (model.extra or {}).get("questions"), questions.REGISTRATION
    )
    if model.submitted_at:
        lines.append(
            f"• {t('label-submitted-at')}: "
            f"{vn.format_datetime(model.submitted_at, ctx.config.timezone)}"
        )
    return lines


def period_label(t: Callable[..., str], period: Period, cadence: str) -> str:
    if cadence == "quarterly":
        quarter = (period.start.month - 1) // 3 + 1
        return t("period-quarterly", quarter=quarter, year=period.start.year)
    return t("period-monthly", month=f"{period.start.month:02}", year=period.start.year)


def answer_lines(model: Model, report: Report, *, indent: str = "") -> list[str]:
    """The report's answers to the campaign's own questions, "• label: value" ("·" under a
    report's line in a list)."""
    return questions.detail_lines(
        model.campaign.questions,
        (report.extra or {}).get("questions"),
        questions.REPORT,
        indent=indent,
        bullet="·" if indent else "•",
    )


async def progress_text(ctx: Ctx, model: Model) -> str:
    """Per target: achieved so far against the target, as a number and a percentage."""
    totals = await target_totals(ctx.session, model_id=model.id)
    lines = [ctx.t("label-progress") + ":"]
    for target in model.targets:
        done = totals.get(target.id, Decimal(0))
        percent = (done / target.target_value * 100) if target.target_value else Decimal(0)
        lines.append(
            ctx.t(
                "progress-line",
                indicator=target.indicator,
                done=vn.format_number(done),
                target=vn.format_number(target.target_value),
                unit=target.unit_of_measure,
                percent=vn.format_number(percent.quantize(Decimal(1))),
            )
        )
    return "\n".join(lines)


def indicator_line(t: Callable[..., str], item: Indicator) -> str:
    """ "• nhà đại đoàn kết: 3/5 căn (60%)", or "• nhà đại đoàn kết: 3 căn" without a target."""
    if not item.target:
        return "• " + t(
            "stats-outcome-no-target",
            indicator=item.name,
            done=vn.format_number(item.achieved),
            unit=item.unit,
        )
    return t(
        "progress-line",
        indicator=item.name,
        done=vn.format_number(item.achieved),
        target=vn.format_number(item.target),
        unit=item.unit,
        percent=vn.format_number(round(item.achieved / item.target * 100)),
    )
