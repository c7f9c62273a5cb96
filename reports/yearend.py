"""The year-end report ("Báo cáo tổng kết phong trào thi đua «Dân vận khéo»") as a Word
document: the figures of `storage.stats.organisation_stats` (the ones /thongke and `dvk stats`
give) written in sentences and tables, the lists of `storage.records.honours`, and marked places
for what only people write. Never invented text: what the data cannot say is left to fill."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from docx.text.paragraph import Paragraph
from sqlalchemy.ext.asyncio import AsyncSession

from language import vn
from reports.document import Writer
from storage import rules
from storage.models import Campaign
from storage.periods import DEFAULT_TZ
from storage.records.honours import Honoured, Notable, commended, notable_models
from storage.records.units import descendant_ids
from storage.stats import OrganisationStats, organisation_stats

EVALUATION_LEVELS = ("excellent", "done", "not_done")


@dataclass(frozen=True)
class Issuer:
    """Who issues the report, as kept per top-level unit (storage/records/issuers.py) or given
    on the command line; what is missing is a marked place to fill."""

    committee: str | None = None
    superior: str | None = None
    place: str | None = None
    signer: str | None = None


@dataclass
class YearEnd:
    stats: OrganisationStats
    campaign: str | None  # its name (a plain value: the report is built after the session)
    years: tuple[int, int] | None
    honoured: list[Honoured] = field(default_factory=list)
    notable: list[Notable] = field(default_factory=list)


async def gather(
    session: AsyncSession,
    *,
    campaign: Campaign | None,
    years: tuple[int, int] | None,
    tz: ZoneInfo = DEFAULT_TZ,
    unit_id: int | None = None,
) -> YearEnd:
    """The figures of the report: of the issuing top-level unit and the units below it (`unit_id`),
    or of the whole installation (None)."""
    campaign_id = campaign.id if campaign else None
    units = None
    if unit_id is not None:
        units = await descendant_ids(session, roots=[unit_id])
    return YearEnd(
        stats=await organisation_stats(
            session, campaign_id=campaign_id, years=years, tz=tz, unit_ids=units
        ),
        campaign=campaign.name if campaign else None,
        years=years,
        honoured=await commended(
            session, campaign_id=campaign_id, years=years, tz=tz, unit_ids=units
        ),
        notable=await notable_models(session, campaign_id=campaign_id, years=years, unit_ids=units),
    )


def build_report(
    t: Callable[..., str],
    data: YearEnd,
    *,
    issuer: Issuer,
    today: date,
    chart: bytes | None = None,
    template: Path | None = None,
) -> bytes:
    """The .docx, in `template`'s layout (the one shipped with the package by default)."""
    w = Writer(template)
    _header(w, t, data, issuer, today)
    w.paragraph(t("yearend-part-situation"), "heading")
    w.paragraph(to_fill=t("yearend-fill-situation"))
    w.paragraph(t("yearend-part-results"), "heading")
    _registrations(w, t, data.stats, chart)
    _outcomes(w, t, data.stats)
    _commendations(w, t, data.stats)
    _notable(w, t, data.notable)
    w.paragraph(t("yearend-part-assessment"), "heading")
    for section, fill in (
        ("yearend-section-strengths", "yearend-fill-strengths"),
        ("yearend-section-limits", "yearend-fill-limits"),
        ("yearend-section-lessons", "yearend-fill-lessons"),
    ):
        w.paragraph(t(section), "heading")
        w.paragraph(to_fill=t(fill))
    w.paragraph(t("yearend-part-direction"), "heading")
    w.paragraph(to_fill=t("yearend-fill-direction"))
    _closing(w, t, issuer)
    for key, kind in (
        ("yearend-appendix-collectives", rules.KIND_COLLECTIVE),
        ("yearend-appendix-individuals", rules.KIND_INDIVIDUAL),
    ):
        _appendix(w, t, key, [h for h in data.honoured if h.kind == kind])
    return w.bytes()


def subject(t: Callable[..., str], campaign: str | None, years: tuple[int, int] | None) -> str:
    if campaign is not None:
        return t("yearend-subject-campaign", campaign=campaign)
    if years is not None:
        first, last = years
        if first == last:
            return t("yearend-subject-year", years=str(first))
        return t("yearend-subject-years", years=f"{first}–{last}")
    return t("yearend-subject-all")


def _given(w: Writer, paragraph: Paragraph, value: str | None, fill: str) -> None:
    if value:
        paragraph.add_run(value)
    else:
        w.fill(paragraph, fill)


def _header(w: Writer, t: Callable[..., str], data: YearEnd, issuer: Issuer, today: date) -> None:
    grid = w.grid(2, (8, 8.5))
    left, right = grid.cell(0, 0), grid.cell(0, 1)
    superior = left.paragraphs[0]
    superior.style = w.style("header")
    _given(w, superior, issuer.superior and issuer.superior.upper(), t("yearend-fill-superior"))
    committee = w.paragraph(role="header_bold", into=left)
    _given(w, committee, issuer.committee and issuer.committee.upper(), t("yearend-fill-committee"))
    w.paragraph("*", "header", into=left)
    w.paragraph(t("yearend-number"), "header", into=left)
    party = right.paragraphs[0]
    party.style = w.style("party")
    party.add_run(t("yearend-party")).underline = True
    w.paragraph("", "header", into=right)
    dated = w.paragraph(role="date", into=right)
    place = issuer.place or ""
    when = t(
        "yearend-place-date",
        place="\x00",
        day=f"{today.day:02d}",
        month=f"{today.month:02d}",
        year=today.year,
    )
    before, _, after = when.partition("\x00")
    dated.add_run(before)
    _given(w, dated, place, t("yearend-fill-place"))
    dated.add_run(after)
    w.paragraph("", "header")
    w.paragraph(t("yearend-title"), "title")
    w.paragraph(_capitalised(subject(t, data.campaign, data.years)), "subject")
    w.paragraph("-----", "header")


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def _kinds(t: Callable[..., str], collective: int, individual: int) -> str:
    n = vn.format_number
    return t("yearend-kinds", collective=n(collective), individual=n(individual))


def _registrations(
    w: Writer, t: Callable[..., str], stats: OrganisationStats, chart: bytes | None
) -> None:
    n = vn.format_number
    w.paragraph(t("yearend-section-registrations"), "heading")
    w.paragraph(
        t(
            "yearend-units-sentence",
            registering=n(stats.units_registering),
            units=n(stats.units),
            collective=n(stats.by_kind[rules.KIND_COLLECTIVE]),
            individual=n(stats.by_kind[rules.KIND_INDIVIDUAL]),
            held=n(stats.units_conference),
        )
    )
    w.paragraph(t("yearend-reports-sentence", reports=n(stats.reports), late=n(stats.late_reports)))
    if stats.evaluations:
        levels = ", ".join(
            t(
                "yearend-evaluation-count",
                count=n(stats.evaluations[level]),
                level=t(f"evaluation-{level}").lower(),
            )
            for level in EVALUATION_LEVELS
            if stats.evaluations[level]
        )
        w.paragraph(t("yearend-evaluations-sentence", levels=levels, proposed=n(stats.proposed)))
    else:
        w.paragraph(t("yearend-no-evaluations"))
    w.paragraph(t("yearend-table-fields"), "caption")
    rows = [
        [str(i), name, n(collective), n(individual), n(collective + individual)]
        for i, (name, collective, individual) in enumerate(stats.by_field, 1)
    ]
    collective = stats.by_kind[rules.KIND_COLLECTIVE]
    individual = stats.by_kind[rules.KIND_INDIVIDUAL]
    rows.append(["", t("yearend-total"), n(collective), n(individual), n(collective + individual)])
    w.table(
        [t(f"yearend-col-{c}") for c in ("number", "field", "collective", "individual", "total")],
        rows,
        (1.2, 7.3, 2.5, 2.5, 2.5),
        numbers=(0, 2, 3, 4),
    )
    w.paragraph(t("yearend-table-units"), "caption")
    w.table(
        [t(f"yearend-col-{c}") for c in ("number", "unit", "members", "models")],
        [
            [str(i), rank.name, n(rank.members), n(rank.registrations)]
            for i, rank in enumerate(stats.unit_ranking, 1)
        ],
        (1.2, 9.8, 2.5, 2.5),
        numbers=(0, 2, 3),
    )
    if chart is not None:
        w.picture(chart)
        w.paragraph(t("yearend-chart"), "caption")


def _outcomes(w: Writer, t: Callable[..., str], stats: OrganisationStats) -> None:
    w.paragraph(t("yearend-section-outcomes"), "heading")
    if not stats.indicators:
        w.paragraph(t("yearend-no-outcomes"))
    for item in stats.indicators:
        unit = item.unit or None
        done = vn.format_rounded(item.achieved, unit)
        if item.target > 0:
            line = t(
                "yearend-outcome",
                indicator=_capitalised(item.name),
                done=done,
                target=vn.format_rounded(item.target, unit),
                percent=vn.format_percent(item.achieved, item.target),
            )
        else:
            line = t("yearend-outcome-no-target", indicator=_capitalised(item.name), done=done)
        w.paragraph(line)


def _commendations(w: Writer, t: Callable[..., str], stats: OrganisationStats) -> None:
    w.paragraph(t("yearend-section-commendations"), "heading")
    if not stats.commendations:
        w.paragraph(t("yearend-no-commendations"))
    for level in rules.COMMENDATION_LEVELS:
        counts = stats.commendations.get(level)
        if not counts:
            continue
        w.paragraph(
            t(
                "yearend-commendation-level",
                level=t(f"commendation-{level}"),
                decided=_kinds(
                    t,
                    counts[(rules.DECIDED, rules.KIND_COLLECTIVE)],
                    counts[(rules.DECIDED, rules.KIND_INDIVIDUAL)],
                ),
                proposed=_kinds(
                    t,
                    counts[(rules.PROPOSED, rules.KIND_COLLECTIVE)],
                    counts[(rules.PROPOSED, rules.KIND_INDIVIDUAL)],
                ),
            )
        )


def _notable(w: Writer, t: Callable[..., str], notable: list[Notable]) -> None:
    w.paragraph(t("yearend-section-notable"), "heading")
    if not notable:
        w.paragraph(t("yearend-no-notable"))
        return
    w.paragraph(t("yearend-notable-intro"))
    w.table(
        [
            t(f"yearend-col-{c}")
            for c in ("number", "model", "owner", "unit", "evaluation", "result")
        ],
        [
            [
                str(i),
                model.title,
                model.owner,
                model.unit,
                t(f"evaluation-{model.evaluation}")
                if model.evaluation
                else t("yearend-not-evaluated"),
                "" if model.ratio is None else f"{vn.format_percent(model.ratio, Decimal(1))}%",
            ]
            for i, model in enumerate(notable, 1)
        ],
        (1, 4.5, 3, 3, 2.5, 2),
        numbers=(0, 5),
    )


def _closing(w: Writer, t: Callable[..., str], issuer: Issuer) -> None:
    w.paragraph("", "header")
    grid = w.grid(2, (7, 9))
    left, right = grid.cell(0, 0), grid.cell(0, 1)
    head = left.paragraphs[0]
    head.style = w.style("recipients")
    run = head.add_run(t("yearend-recipients"))
    run.bold = run.italic = True
    superior = w.paragraph(role="recipients", into=left)
    if issuer.superior:
        superior.add_run(t("yearend-recipient-superior", superior=issuer.superior))
    else:
        superior.add_run("- ")
        w.fill(superior, t("yearend-fill-superior"))
    w.paragraph(t("yearend-recipient-archive"), "recipients", into=left)
    on_behalf = right.paragraphs[0]
    on_behalf.style = w.style("signature")
    on_behalf.add_run(t("yearend-on-behalf"))
    title = w.paragraph(role="signature", into=right)
    _given(w, title, issuer.signer and issuer.signer.upper(), t("yearend-fill-signer"))
    for _ in range(3):
        w.paragraph("", "signature", into=right)
    w.paragraph(role="signature", into=right, to_fill=t("yearend-fill-signer-name"))


def _appendix(w: Writer, t: Callable[..., str], key: str, honoured: list[Honoured]) -> None:
    w.page_break()
    for line in t(key).split("\n"):
        w.paragraph(line, "title")
    if not honoured:
        w.paragraph(t("yearend-appendix-none"))
        return
    number = 0
    for level in rules.COMMENDATION_LEVELS:
        rows = [h for h in honoured if h.level == level]
        if not rows:
            continue
        number += 1
        w.paragraph(
            t("yearend-appendix-level", number=number, level=t(f"commendation-{level}")),
            "heading",
        )
        w.table(
            [t(f"yearend-col-{c}") for c in ("number", "name", "model", "unit", "form")],
            [[str(i), h.name, h.title, h.unit, _form(t, h)] for i, h in enumerate(rows, 1)],
            (1, 4, 4.5, 3.5, 3),
        )


def _form(t: Callable[..., str], honoured: Honoured) -> str:
    if honoured.status != rules.DECIDED:
        return t("yearend-proposed")
    if honoured.decision_number and honoured.decided_on:
        return t(
            "yearend-decided-by",
            number=honoured.decision_number,
            date=vn.format_date(honoured.decided_on),
        )
    return t("yearend-decided")
