"""Reading the work itself: a model's reports with their photos, newest first and paged
(`/xemmohinh MH12`), one report (`/xembaocao N`, from the digest), and the reports that came in
this period per unit (from /donvi). For a coordinator of the model's unit (or above it) and the
admins; the owner reads their own through /mohinh, and may open their reports here too.

A report's photos follow its text: an album where the channel uploads pictures, signed links where
it takes them only by URL (bot/delivery.py decides)."""

from __future__ import annotations

from datetime import tzinfo
from decimal import Decimal

from handlers.core import buttons
from handlers.core.commands import Button, Command, Role
from handlers.core.context import Ctx
from handlers.core.types import Choice, Outbound, Picture
from handlers.shared.permissions import reviewable_units
from handlers.shared.views import answer_lines, outcome_text, period_label, progress_text
from language import vn
from language.texts import Texts
from storage.models import Member, Model, Report, ReportPhoto, Unit
from storage.periods import Period, period_containing
from storage.records.campaigns import campaigns_in_units
from storage.records.models import model_by_code, model_code, model_details
from storage.records.photos import is_telegram_file_id
from storage.records.reports import ReportLine, period_reports, report_by_id, report_page
from storage.records.units import descendant_ids

# Reports on one page of a model's: each is a message of its own with its photos.
MODEL_PAGE = 3
# Reports listed on one page of a unit's, each a button.
LIST_PAGE = 8
# Reports an evaluator reads at once (a campaign of three years reported monthly has 36).
HISTORY = 60


async def readable(ctx: Ctx, model: Model | None) -> bool:
    """Its owner, a coordinator of its unit (sub-units included) or an admin."""
    if model is None:
        return False
    if model.owner_id is not None and model.owner_id == ctx.member.id:
        return True
    units = await reviewable_units(ctx)
    return units is None or model.unit_id in units


def pictures_of(photos: list[ReportPhoto]) -> list[Picture]:
    """A report's photos as the delivery shows them. A photo sent on Telegram keeps Telegram's
    file id beside its key; elsewhere the file id is the key itself (Zalo) or a path (the
    terminal), which is no Telegram file id."""
    return [
        Picture(
            photo.media_key,
            photo.file_id
            if photo.file_id != photo.media_key and is_telegram_file_id(photo.file_id)
            else None,
        )
        for photo in photos
    ]


def report_text(ctx: Ctx, model: Model, report: Report, author: str | None) -> str:
    """A report whole: its period, who sent it and when (late or not), what was done, each
    value against its target, difficulties, proposals, the answer it got, the photos' count."""
    t = ctx.t
    period = period_label(
        t, Period(report.period_start, report.period_end, report.due_on), model.campaign.cadence
    )
    sent = vn.format_datetime(report.submitted_at, ctx.config.timezone)
    lines = [t("reading-report-head", id=report.id, code=model_code(model), period=period)]
    byline = t("reading-report-by", name=author or t("reading-no-author"), at=sent)
    if report.late:
        byline += " · " + t("reading-report-late", due=vn.format_date(report.due_on))
    lines.append(byline)
    lines.append(f"• {t('label-report-done')}:\n{report.done_text}")
    targets = {target.id: target for target in model.targets}
    values = sorted(report.values, key=lambda v: targets[v.target_id].position)
    if values:
        lines.append(f"• {t('reading-values')}:")
        for value in values:
            target = targets[value.target_id]
            lines.append(
                "  – "
                + outcome_text(
                    t,
                    target.indicator,
                    value.value,
                    target.target_value or Decimal(0),
                    target.unit_of_measure,
                )
            )
    if report.difficulties:
        lines.append(f"• {t('label-difficulties')}: {report.difficulties}")
    if report.proposals:
        lines.append(f"• {t('label-proposals')}: {report.proposals}")
    lines += answer_lines(model, report)
    answer = (report.extra or {}).get("answer")
    if answer:
        lines.append(f"• {t('reading-answer')}: {answer['text']}")
    if report.completed:
        lines.append(f"• {t('report-model-completed')}")
    if report.photos:
        lines.append(f"• {t('label-report-photos')}: {vn.format_number(len(report.photos))}")
    return "\n".join(lines)


async def _author(ctx: Ctx, model: Model, report: Report) -> str | None:
    member = await ctx.session.get(Member, report.member_id or model.owner_id or 0)
    if member is None:
        return None
    return member.full_name or ctx.t("member-left")  # erased (/xoadulieu)


async def report_message(
    ctx: Ctx, model: Model, report: Report, choices: list[list[Choice]] | None = None
) -> Outbound:
    text = report_text(ctx, model, report, await _author(ctx, model, report))
    return Outbound(text, choices or [], pictures=pictures_of(report.photos))


async def show_report(ctx: Ctx, report_id: int) -> None:
    report = await report_by_id(ctx.session, report_id=report_id)
    model = await model_details(ctx.session, model_id=report.model_id) if report else None
    if report is None or model is None:
        ctx.say("report-not-found", id=report_id)
        return
    if not await readable(ctx, model):
        ctx.say("error-not-allowed")
        return
    code = model_code(model)
    rows = [[Choice(ctx.t("button-model-reports", code=code), buttons.MODEL_REPORTS(model.id))]]
    if (report.difficulties or report.proposals) and model.owner_id != ctx.member.id:
        rows.append([Choice(ctx.t("button-answer-report"), buttons.ANSWER(report.id))])
    ctx.result.messages.append(await report_message(ctx, model, report, rows))


async def show_model_reports(ctx: Ctx, model_id: int, page: int = 0) -> None:
    """The model's head (code, title, unit, owner, status, progress) and one page of its
    reports, newest first; the last message pages on."""
    model = await model_details(ctx.session, model_id=model_id)
    if model is None:
        ctx.say("model-not-found")
        return
    if not await readable(ctx, model):
        ctx.say("error-not-allowed")
        return
    total, reports = await report_page(
        ctx.session, model_id=model.id, offset=page * MODEL_PAGE, limit=MODEL_PAGE
    )
    pages = max(1, -(-total // MODEL_PAGE))
    if page >= pages:
        ctx.say("reading-page-gone")
        return
    unit = await ctx.session.get(Unit, model.unit_id)
    owner = await ctx.session.get(Member, model.owner_id or 0)
    head = [
        ctx.t("model-head", code=model_code(model), title=model.title),
        ctx.t(
            "reading-model-who",
            owner=(owner.full_name or ctx.t("member-left"))
            if owner
            else ctx.t("reading-no-author"),
            unit=unit.name if unit else "",
            status=ctx.t(f"status-{model.status}"),
        ),
        await progress_text(ctx, model),
        ctx.t("reading-model-count", count=vn.format_number(total))
        if total
        else ctx.t("reports-none"),
    ]
    ctx.result.say("\n".join(head))
    for report in reports:
        ctx.result.messages.append(await report_message(ctx, model, report))
    if pages > 1:
        ctx.result.say(
            ctx.t("reading-page", page=page + 1, pages=pages),
            [_paging(buttons.MODEL_REPORTS, ctx, model.id, page, pages)],
        )


def _paging(
    kind: buttons.Kind[buttons.Page], ctx: Ctx, id: int, page: int, pages: int
) -> list[Choice]:
    row = []
    if page > 0:
        row.append(Choice(ctx.t("button-prev"), kind(id, page - 1)))
    if page + 1 < pages:
        row.append(Choice(ctx.t("button-next"), kind(id, page + 1)))
    return row


async def current_periods(ctx: Ctx, unit_ids: set[int]) -> dict[int, Period]:
    """The current reporting period of each campaign with models in these units."""
    campaigns = await campaigns_in_units(ctx.session, unit_ids=unit_ids)
    return {
        c.id: period_containing(ctx.today, cadence=c.cadence, due_day=c.due_day) for c in campaigns
    }


def line_label(t: Texts, timezone: tzinfo, line: ReportLine) -> str:
    """ "MH12 · Nguyễn Văn A · 28/11/2026" on a button (at most 60 characters)."""
    day = vn.format_date(line.submitted_at.astimezone(timezone).date())
    return f"{line.code} · {line.name or t('reading-no-author')} · {day}"[:60]


async def reports_this_period(ctx: Ctx, unit_ids: set[int]) -> int:
    periods = await current_periods(ctx, unit_ids)
    total, _ = await period_reports(
        ctx.session,
        unit_ids=unit_ids,
        periods={c: p.start for c, p in periods.items()},
        offset=0,
        limit=0,
    )
    return total


async def history_text(ctx: Ctx, model: Model) -> str:
    """Every report of a model, newest first, each whole but without its photos (counted), and
    where to read them with the photos: what an evaluator reads before deciding."""
    total, reports = await report_page(ctx.session, model_id=model.id, offset=0, limit=HISTORY)
    if not total:
        return ctx.t("reports-none")
    lines = [ctx.t("evaluation-history", count=vn.format_number(total))]
    for report in reports:
        lines += ["", report_text(ctx, model, report, await _author(ctx, model, report))]
    lines += ["", ctx.t("evaluation-history-more", code=model_code(model))]
    return "\n".join(lines)


async def show_unit_reports(ctx: Ctx, unit_id: int, page: int = 0) -> None:
    """The reports that came in for the current period in a unit (sub-units included), newest
    first, a page at a time, each a button to open it."""
    unit = await ctx.session.get(Unit, unit_id)
    if unit is None:
        ctx.say("unit-not-found")
        return
    units = await reviewable_units(ctx)
    if units is not None and unit_id not in units:
        ctx.say("error-not-allowed")
        return
    ids = await descendant_ids(ctx.session, roots=[unit_id])
    periods = await current_periods(ctx, ids)
    total, lines = await period_reports(
        ctx.session,
        unit_ids=ids,
        periods={c: p.start for c, p in periods.items()},
        offset=page * LIST_PAGE,
        limit=LIST_PAGE,
    )
    if not total:
        ctx.say("reading-unit-none", unit=unit.name)
        return
    pages = -(-total // LIST_PAGE)
    if page >= pages:
        ctx.say("reading-page-gone")
        return
    text = [ctx.t("reading-unit-head", unit=unit.name, count=vn.format_number(total))]
    for line in lines:
        late = " · " + ctx.t("reading-late-short") if line.late else ""
        photos = f" · 🖼 {line.photos}" if line.photos else ""
        # A unit with sub-units: whose report it is.
        where = f" ({line.unit})" if len(ids) > 1 else ""
        text.append(f"– {line.code} «{line.title}» — {line.name}{where}{late}{photos}")
    if pages > 1:
        text.append(ctx.t("reading-page", page=page + 1, pages=pages))
    rows = [
        [Choice(line_label(ctx.t, ctx.config.timezone, line), buttons.REPORT_VIEW(line.id))]
        for line in lines
    ]
    paging = _paging(buttons.UNIT_REPORTS, ctx, unit_id, page, pages)
    ctx.result.say("\n".join(text), rows + ([paging] if paging else []))


async def _model_of_code(ctx: Ctx, args: str) -> tuple[int, int] | None:
    """ "MH12" or "MH12 2" (the page): the model's id and the page from 0."""
    words = args.split()
    if not words:
        ctx.say("reading-model-usage")
        return None
    # The whole text is a code first ("MH 12" is MH12); else a last number is the page.
    page = 0
    model_id = await model_by_code(ctx.session, text=" ".join(words))
    if model_id is None and len(words) > 1 and words[-1].isdigit() and len(words[-1]) <= 5:
        page = max(int(words.pop()) - 1, 0)
        model_id = await model_by_code(ctx.session, text=" ".join(words))
    if model_id is None:
        ctx.say("reading-model-unknown", code=" ".join(words)[:32])
        return None
    return model_id, page


async def _report_number(ctx: Ctx, args: str) -> int | None:
    text = args.strip().lstrip("#")
    if text.isdigit() and len(text) <= 9:
        return int(text)
    ctx.say("reading-report-usage")
    return None


COMMANDS = (
    Command(
        ("xemmohinh",),
        Role.STAFF,
        lambda ctx, conv, found: show_model_reports(ctx, *found),
        read=_model_of_code,
        shows=True,
    ),
    Command(
        ("xembaocao",),
        Role.STAFF,
        lambda ctx, conv, report_id: show_report(ctx, report_id),
        read=_report_number,
        shows=True,
        menu=False,  # typed from the digest and /donvi's lists, which name each report
    ),
)
BUTTONS = (
    Button(buttons.REPORT_VIEW, Role.STAFF, command=lambda ref: f"/xembaocao {ref.id}"),
    Button(
        buttons.MODEL_REPORTS,
        Role.STAFF,
        lambda ctx, conv, ref: show_model_reports(ctx, ref.id, ref.page),
    ),
    Button(
        buttons.UNIT_REPORTS,
        Role.STAFF,
        lambda ctx, conv, ref: show_unit_reports(ctx, ref.id, ref.page),
    ),
    Button(buttons.ANSWER, Role.STAFF, command=lambda ref: f"/traloi {ref.id}"),
)
