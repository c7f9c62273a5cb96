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
from storage.records.models import model_code
from storage.records.reports import target_totals
from storage.stats import Indicator


def model_lines(ctx: Ctx, model: Model) -> list[str]:
    """A model's details, as the owner and the reviewers see them."""
    t = ctx.t
    lines = [
        t("model-head", code=model_code(model), title=model.title),
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
        f"  {target.position}. "
        + target_text(target.indicator, target.target_value, target.unit_of_measure)
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


def target_text(indicator: str, value: Decimal | int, unit: str) -> str:
    """ "nhà đại đoàn kết: 5 căn", "tiền vận động: 2,5 tỷ đồng": a target or a reported value,
    written the same way wherever it is shown."""
    return f"{indicator}: {vn.format_amount(value, unit or None)}"


def outcome_text(
    t: Callable[..., str], name: str, achieved: Decimal, target: Decimal | None, unit: str
) -> str:
    """ "nhà đại đoàn kết: 3/5 căn (60%)", "tiền vận động: 0/2,5 tỷ đồng (0%)", or "nhà đại
    đoàn kết: 3 căn" without a target: /mohinh, /donvi, /thongke and the digest alike."""
    if not target:
        return t(
            "stats-outcome-no-target", indicator=name, done=vn.format_amount(achieved), unit=unit
        )
    return t(
        "stats-outcome",
        indicator=name,
        done=vn.format_amount(achieved),
        target=vn.format_amount(target),
        unit=unit,
        percent=vn.format_percent(achieved, target),
    )


async def progress_text(ctx: Ctx, model: Model) -> str:
    """Per target: achieved so far against the target, as a number and a percentage."""
    totals = await target_totals(ctx.session, model_id=model.id)
    lines = [ctx.t("label-progress") + ":"]
    for target in model.targets:
        done = totals.get(target.id, Decimal(0))
        lines.append(
            "• "
            + outcome_text(
                ctx.t,
                target.indicator,
                done,
                target.target_value or Decimal(0),
                target.unit_of_measure,
            )
        )
    return "\n".join(lines)


def indicator_line(t: Callable[..., str], item: Indicator, *, bullet: str = "•") -> str:
    """ "• nhà đại đoàn kết: 3/5 căn (60%)", or "• nhà đại đoàn kết: 3 căn" without a target."""
    return f"{bullet} " + outcome_text(t, item.name, item.achieved, item.target, item.unit)
