"""The export's sheets of what reports said: the results (one row per value a report gave for a
target) and the answers reports gave to a campaign's own questions, streamed in chunks through
the export's run (`excel/export.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from openpyxl import Workbook
from sqlalchemy import Select, func, select

from excel.layout import REPORT_ANSWERS_SHEET, RESULT_EXPORT_HEADERS, SHEETS
from excel.sheet_writer import SheetWriter, number
from storage.models import Model, Report, ReportValue, Target

if TYPE_CHECKING:
    from excel.export import ExportRun

RESULTS = SHEETS[3][0]  # the layout's fourth sheet, "Kết quả"
HEADERS = {name: headers for name, headers, _ in SHEETS}


def results_query(export: ExportRun, *, count: bool = False) -> Select[Any]:
    """One row per value a report gave for a target. A report without any value (only
    possible for a model without targets) has no row: the layout has no place for it."""
    columns: tuple[Any, ...] = (
        (func.count(),)
        if count
        else (
            Report.id,
            Model.code,
            Target.indicator,
            Target.unit_of_measure,
            ReportValue.value,
            Report.submitted_at,
            Report.period_start,
            Report.period_end,
            Report.done_text,
            Report.difficulties,
            Report.proposals,
        )
    )
    query = (
        select(*columns)
        .select_from(ReportValue)
        .join(Report, Report.id == ReportValue.report_id)
        .join(Target, Target.id == ReportValue.target_id)
        .join(Model, Model.id == Report.model_id)
        .where(*export.models())
    )
    if count:
        return query
    return query.order_by(Report.model_id, Report.period_start, Target.position, Target.id)


async def results(export: ExportRun, book: Workbook) -> None:
    out = SheetWriter(book, RESULTS, HEADERS[RESULTS] + RESULT_EXPORT_HEADERS)
    last_report = None
    async for rows in export.stream(results_query(export)):
        for row in rows:
            report_id, code, indicator, measure, value, sent_at, start, end, *said = row
            # The local day it was sent, kept inside its period, so that an import puts it
            # back in the same period (a late report may be sent after its period ended).
            day = min(max(export.local_date(sent_at), start), end)
            out.append(
                [
                    out.text(code),
                    out.text(indicator),
                    out.text(measure),
                    number(value),
                    out.date(day),
                    *(out.text(text) for text in said),
                ]
            )
            if report_id != last_report:
                export.counts.reports += 1
                last_report = report_id
        await export.written(len(rows))


async def report_answers(export: ExportRun, book: Workbook) -> None:
    """The answers reports gave to a campaign's own questions, one row each; no sheet when
    no exported campaign asks anything of its reports."""
    asked = {
        campaign.id: {q["id"]: q for q in campaign.questions or [] if q.get("form") == "report"}
        for campaign in export.campaign_rows
    }
    asked = {campaign_id: found for campaign_id, found in asked.items() if found}
    if not asked:
        return
    out = SheetWriter(book, REPORT_ANSWERS_SHEET[0], REPORT_ANSWERS_SHEET[1])
    query = (
        select(
            Model.code,
            Model.campaign_id,
            Report.extra,
            Report.submitted_at,
            Report.period_start,
            Report.period_end,
        )
        .join(Model, Model.id == Report.model_id)
        .where(*export.models(), Model.campaign_id.in_(asked))
        .order_by(Report.model_id, Report.period_start)
    )
    async for rows in export.stream(query):
        for code, campaign_id, extra, sent_at, start, end in rows:
            day = min(max(export.local_date(sent_at), start), end)
            answers = (extra or {}).get("questions") or {}
            for question_id, value in answers.items():
                question = asked[campaign_id].get(question_id)
                if question is not None:
                    out.append(
                        [
                            out.text(code),
                            out.date(day),
                            out.text(question.get("label")),
                            out.answer(question.get("kind", "text"), value),
                        ]
                    )
        # Not in the total announced at the start (answers are few): counted as written.
        await export.written(0)
