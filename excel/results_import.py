"""The results sheet of an import workbook (`excel/records_import.py`) written as reports and
their values: each row lands in the reporting period its day falls in, one report per model and
period, one value per report and target. How amounts and days are stored is decided here too."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from sqlalchemy import select

from excel.check import code_key, fetch_in_chunks
from excel.rows import RESULTS
from excel.units_import import Problem
from storage.models import Model, Report, ReportValue
from storage.periods import Period, period_containing
from storage.records.reports import refresh_achieved
from storage.stats import indicator_key

if TYPE_CHECKING:
    from excel.records_import import RecordWriter

AMOUNT_STEP = Decimal("0.0001")  # the scale amounts are stored with (Numeric(24, 4))


def stored_amount(value: Decimal) -> Decimal:
    return value.quantize(AMOUNT_STEP)


def midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def _period(writer: RecordWriter, model: Model, day: date) -> Period:
    campaign = writer.by_id[model.campaign_id]
    return period_containing(day, cadence=campaign.cadence, due_day=campaign.due_day)


async def _reports(writer: RecordWriter, model_ids: set[int]) -> dict[tuple[int, date], Report]:
    return {
        (report.model_id, report.period_start): report
        for report in await fetch_in_chunks(
            writer.session,
            sorted(model_ids),
            lambda chunk: select(Report).where(Report.model_id.in_(chunk)),
        )
    }


async def write_results(writer: RecordWriter) -> None:
    if not writer.rows.results:
        return
    writer.by_id = {c.id: c for c in writer.campaigns.values()}
    placed = []
    owners: dict[int, int | None] = {}
    origin: dict[tuple[int, date, int], Any] = {}
    for r in writer.rows.results:
        assert r.model and r.indicator and r.measure and r.reported_on and r.value is not None
        model = writer.models[code_key(r.model)]
        period = _period(writer, model, r.reported_on)
        target = writer.targets[(model.id, indicator_key(r.indicator, r.measure))]
        placed.append((model.id, period, r.reported_on, target, stored_amount(r.value)))
        owners[model.id] = model.owner_id
        origin[(model.id, period.start, target.id)] = r
    reports = await _reports(writer, {model_id for model_id, *_ in placed})
    new: dict[tuple[int, date], dict[str, Any]] = {}
    for model_id, period, day, _, _ in placed:
        if (model_id, period.start) in reports:
            continue
        submitted = midnight(day, writer.tz)
        row = new.get((model_id, period.start))
        if row is not None:
            # A new report is as of its latest row; after the due date it was late.
            row["submitted_at"] = max(row["submitted_at"], submitted)
            row["late"] = row["late"] or day > period.due
            continue
        new[(model_id, period.start)] = {
            "model_id": model_id,
            "member_id": None,
            "period_start": period.start,
            "period_end": period.end,
            "due_on": period.due,
            "done_text": "",
            "completed": False,
            "late": day > period.due,
            "replaced": 0,
            "extra": {},
            "submitted_at": submitted,
        }
    if new:
        await writer.insert_rows(Report, list(new.values()))
        reports = await _reports(writer, {model_id for model_id, _ in new})
    values = {
        (value.report_id, value.target_id): value
        for value in await fetch_in_chunks(
            writer.session,
            [report.id for report in reports.values()],
            lambda chunk: select(ReportValue).where(ReportValue.report_id.in_(chunk)),
        )
    }
    added = []
    touched = set()
    for model_id, period, _, target, amount in placed:
        report = reports[(model_id, period.start)]
        value = values.get((report.id, target.id))
        if owners[model_id] is not None and (
            value is None or stored_amount(Decimal(value.value)) != amount
        ):
            # Reports of a model registered in the chat are its owner's to give.
            r = origin[(model_id, period.start, target.id)]
            writer.owned.append(
                Problem(r.row, "import-owned-result", {"code": r.model}, sheet=r.sheet)
            )
            continue
        if value is None:
            added.append({"report_id": report.id, "target_id": target.id, "value": amount})
            writer.counts[RESULTS].count(None)
            touched.add(target.id)
        else:
            same = stored_amount(Decimal(value.value)) == amount
            if not same:
                value.value = amount
                touched.add(target.id)
            writer.counts[RESULTS].count(not same)
    await writer.insert_rows(ReportValue, added)
    # The targets' running totals follow their values, as after a report in the chat.
    await refresh_achieved(writer.session, target_ids=touched)
