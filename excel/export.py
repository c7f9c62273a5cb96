"""The export: the movement's records in the workbook layout of `excel/layout.py`, so that an
export imports back (here or in another installation), plus a summary sheet per unit.

Built for hundreds of thousands of rows in flat memory: openpyxl's write-only workbook writes
each row to a temporary file as it comes (`excel/sheet_writer.py`), and the rows are streamed
from the database in chunks (`yield_per`: a server-side cursor on PostgreSQL, fetchmany on
SQLite); only the small tables (units, campaigns, fields) are held in memory.

Here: the run (`ExportRun`) and the sheets of registrations, units, campaigns, conferences,
commendations and targets; the sheets of what reports said are in `excel/export_reports.py`, the
summary's figures in `excel/export_summary.py`."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from openpyxl import Workbook
from sqlalchemy import Row, Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from excel.export_reports import report_answers, results, results_query
from excel.export_summary import SUMMARY_HEADERS, SUMMARY_TOTAL, UnitFigures, unit_figures
from excel.layout import (
    CADENCE_LABELS,
    CAMPAIGN_OPTIONAL_HEADERS,
    COMMENDATION_STATUS_VALUES,
    KIND_VALUES,
    LEVEL_VALUES,
    MODEL_STATUS_LABELS,
    REGISTRATION_STATUS_HEADER,
    SHEETS,
    SUMMARY_SHEET,
    TARGETS_SHEET,
    UNIT_OPTIONAL_HEADERS,
)
from excel.sheet_writer import SheetWriter, number
from storage import rules
from storage.models import Campaign, Commendation, Conference, Field, Member, Model, Target, Unit
from storage.records.people import shown_name

CAMPAIGNS, UNITS, REGISTRATIONS, RESULTS, CONFERENCES, COMMENDATIONS = (s[0] for s in SHEETS)
HEADERS = {name: headers for name, headers, _ in SHEETS}
KIND_LABELS = {value: label for label, value in KIND_VALUES.items()}
LEVEL_LABELS = {value: label for label, value in LEVEL_VALUES.items()}
COMMENDATION_STATUS_LABELS = {value: label for label, value in COMMENDATION_STATUS_VALUES.items()}
# A draft has not been sent: not a registration of the movement yet.
EXCLUDED_STATUSES = (rules.DRAFT,)
CHUNK = 1_000

Progress = Callable[[int, int], Awaitable[None]]


@dataclass(frozen=True)
class ExportScope:
    campaign_id: int | None = None
    # The units whose records are exported (a coordinator's, sub-units included); None: all.
    unit_ids: frozenset[int] | None = None


@dataclass
class ExportCounts:
    models: int = 0
    reports: int = 0
    rows: int = 0


async def export_workbook(
    session: AsyncSession,
    path: Path,
    *,
    scope: ExportScope,
    timezone: ZoneInfo,
    progress: Progress | None = None,
    chunk: int = CHUNK,
) -> ExportCounts:
    """Write the workbook to `path`, reading through a session that has not been used yet.
    `progress(rows written, rows in all)` is awaited after every chunk and at the end."""
    if session.bind.dialect.name == "postgresql":
        # One snapshot for every sheet: a report sent meanwhile is in all of them or in none.
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    export = ExportRun(session, scope, timezone, progress, chunk)
    await export.prepare()
    book = Workbook(write_only=True)
    try:
        await export.campaigns(book)
        await export.units(book)
        await export.registrations(book)
        await results(export, book)
        await export.conferences(book)
        await export.commendations(book)
        await export.targets(book)
        await report_answers(export, book)
        await export.summary(book)
        # Zipping the sheets takes a while for a big export: not on the event loop.
        await asyncio.to_thread(book.save, path)
    except BaseException:
        _abandon(book)
        raise
    await export.report_progress(force=True)
    return export.counts


def _abandon(book: Workbook) -> None:
    """An export given up half-way (an error, a Ctrl-C, a stop): each sheet's writer is closed
    and its temporary file removed now, rather than by the garbage collector, whose late close of
    a write-only sheet prints a traceback ("I/O operation on closed file") after the fact."""
    for sheet in book.worksheets:
        writer = getattr(sheet, "_writer", None)
        with contextlib.suppress(Exception):
            sheet.close()
        with contextlib.suppress(Exception):
            Path(writer.out).unlink(missing_ok=True)


UnitRow = tuple[int, str, str, int | None]


class ExportRun:
    """One export under way: its scope, its snapshot of the small tables, its counts."""

    def __init__(
        self,
        session: AsyncSession,
        scope: ExportScope,
        timezone: ZoneInfo,
        progress: Progress | None,
        chunk: int,
    ) -> None:
        self.session = session
        self.scope = scope
        self.timezone = timezone
        self.progress = progress
        self.chunk = chunk
        self.counts = ExportCounts()
        self.total = 0
        self.units_listed: list[UnitRow] = []
        self.unit_codes: dict[int, str] = {}
        self.unit_dates: dict[int, tuple[date | None, date | None]] = {}
        self.campaign_rows: list[Row[Any]] = []
        self.fields: dict[int, str] = {}
        self._reported = 0

    def models(self) -> list[Any]:
        """The models exported: sent (not drafts), with a code, in the scope."""
        where: list[Any] = [Model.code.is_not(None), Model.status.notin_(EXCLUDED_STATUSES)]
        if self.scope.campaign_id is not None:
            where.append(Model.campaign_id == self.scope.campaign_id)
        if self.scope.unit_ids is not None:
            where.append(Model.unit_id.in_(sorted(self.scope.unit_ids)))
        return where

    def held(self) -> list[Any]:
        where: list[Any] = []
        if self.scope.campaign_id is not None:
            where.append(Conference.campaign_id == self.scope.campaign_id)
        if self.scope.unit_ids is not None:
            where.append(Conference.unit_id.in_(sorted(self.scope.unit_ids)))
        return where

    async def prepare(self) -> None:
        units = (
            await self.session.execute(
                select(
                    Unit.id,
                    Unit.code,
                    Unit.name,
                    Unit.parent_id,
                    Unit.active_from,
                    Unit.active_until,
                )
            )
        ).all()
        self.unit_codes = {unit.id: unit.code for unit in units}
        self.unit_dates = {unit.id: (unit.active_from, unit.active_until) for unit in units}
        self.units_listed = parents_first(
            [
                (unit.id, unit.code, unit.name, unit.parent_id)
                for unit in units
                if self.scope.unit_ids is None or unit.id in self.scope.unit_ids
            ]
        )
        campaigns = select(
            Campaign.id,
            Campaign.code,
            Campaign.name,
            Campaign.starts_on,
            Campaign.ends_on,
            Campaign.questions,
            Campaign.cadence,
            Campaign.due_day,
            Campaign.registration_opens_on,
            Campaign.registration_closes_on,
        ).order_by(Campaign.starts_on, Campaign.code)
        if self.scope.campaign_id is not None:
            campaigns = campaigns.where(Campaign.id == self.scope.campaign_id)
        self.campaign_rows = list((await self.session.execute(campaigns)).all())
        self.fields = dict((await self.session.execute(select(Field.id, Field.name))).all())
        models = self.models()
        counts = [
            select(func.count()).select_from(Model).where(*models),
            select(func.count()).select_from(Target).join(Model).where(*models),
            results_query(self, count=True),
            select(func.count()).select_from(Conference).where(*self.held()),
            select(func.count()).select_from(Commendation).join(Model).where(*models),
        ]
        self.total = len(self.campaign_rows) + 2 * len(self.units_listed)  # units and summary
        for query in counts:
            self.total += int(await self.session.scalar(query) or 0)

    async def written(self, rows: int) -> None:
        self.counts.rows += rows
        if self.counts.rows - self._reported >= self.chunk:
            await self.report_progress()

    async def report_progress(self, *, force: bool = False) -> None:
        if self.progress is not None and (force or self.counts.rows != self._reported):
            self._reported = self.counts.rows
            await self.progress(self.counts.rows, max(self.total, self.counts.rows))

    async def stream(self, query: Select[Any]) -> AsyncIterator[Sequence[Row[Any]]]:
        result = await self.session.stream(query.execution_options(yield_per=self.chunk))
        async for partition in result.partitions():
            yield partition

    def local_date(self, moment: datetime) -> date:
        return moment.astimezone(self.timezone).date()

    # --- the sheets, in the layout's order -----------------------------------------------------

    async def campaigns(self, book: Workbook) -> None:
        out = SheetWriter(book, CAMPAIGNS, HEADERS[CAMPAIGNS] + CAMPAIGN_OPTIONAL_HEADERS)
        for campaign in self.campaign_rows:
            out.append(
                [
                    out.text(campaign.code),
                    out.text(campaign.name),
                    out.date(campaign.starts_on),
                    out.date(campaign.ends_on),
                    out.text(CADENCE_LABELS.get(campaign.cadence, campaign.cadence)),
                    campaign.due_day,
                    out.date(campaign.registration_opens_on),
                    out.date(campaign.registration_closes_on),
                ]
            )
        await self.written(len(self.campaign_rows))

    async def units(self, book: Workbook) -> None:
        out = SheetWriter(book, UNITS, HEADERS[UNITS] + UNIT_OPTIONAL_HEADERS)
        for unit_id, code, name, parent_id in self.units_listed:
            # A parent outside a coordinator's export is written as it is.
            parent = self.unit_codes.get(parent_id) if parent_id is not None else None
            since, until = self.unit_dates[unit_id]
            out.append(
                [out.text(code), out.text(name), out.text(parent), out.date(since), out.date(until)]
            )
        await self.written(len(self.units_listed))

    def question_columns(self, headers: list[str]) -> dict[int, list[tuple[str, str, int]]]:
        """One column per registration question of the exported campaigns, headed by its text
        (appended to `headers`); questions of several campaigns with the same text share one.
        Returns, per campaign, (question id, kind, column)."""
        fold = lambda text: " ".join(text.casefold().split())  # noqa: E731
        layout = {fold(header) for header in headers}
        columns: dict[str, int] = {}
        found: dict[int, list[tuple[str, str, int]]] = {}
        for campaign in self.campaign_rows:
            for question in campaign.questions or []:
                if question.get("form") != "registration" or not question.get("label"):
                    continue
                label = str(question["label"]).strip()
                if fold(label) in layout:
                    label += " (câu hỏi)"  # never read back as a column of the layout
                if fold(label) not in columns:
                    columns[fold(label)] = len(headers)
                    headers.append(label)
                found.setdefault(campaign.id, []).append(
                    (str(question.get("id")), str(question.get("kind")), columns[fold(label)])
                )
        return found

    async def registrations(self, book: Workbook) -> None:
        headers = [*HEADERS[REGISTRATIONS], REGISTRATION_STATUS_HEADER]
        questions = self.question_columns(headers)
        campaign_codes = {campaign.id: campaign.code for campaign in self.campaign_rows}
        query = (
            select(
                Model.code,
                Model.campaign_id,
                Model.unit_id,
                Model.kind,
                Model.collective_name,
                shown_name().label("full_name"),
                Model.title,
                Model.field_id,
                Model.registered_on,
                func.coalesce(Model.submitted_at, Model.created_at).label("sent_at"),
                Model.status,
                Model.extra,
            )
            .outerjoin(Member, Member.id == Model.owner_id)
            .where(*self.models())
            .order_by(Model.id)
        )
        out = SheetWriter(book, REGISTRATIONS, headers)
        async for rows in self.stream(query):
            for model in rows:
                # A collective's name; an individual's own name (kept as the collective name
                # when the record came from paper and nobody in the chat owns it).
                name = model.collective_name if model.kind == rules.KIND_COLLECTIVE else None
                row: list[Any] = [
                    out.text(model.code),
                    out.text(campaign_codes.get(model.campaign_id)),
                    out.text(self.unit_codes.get(model.unit_id)),
                    KIND_LABELS.get(model.kind, model.kind),
                    out.text(name or model.full_name or model.collective_name),
                    out.text(model.title),
                    out.text(self.fields.get(model.field_id)),
                    out.date(model.registered_on or self.local_date(model.sent_at)),
                    MODEL_STATUS_LABELS.get(model.status, model.status),
                ]
                asked = questions.get(model.campaign_id)
                if asked:
                    row += [None] * (len(headers) - len(row))
                    answers = (model.extra or {}).get("questions") or {}
                    for question_id, kind, column in asked:
                        if question_id in answers and row[column] is None:
                            row[column] = out.answer(kind, answers[question_id])
                out.append(row)
            self.counts.models += len(rows)
            await self.written(len(rows))

    async def conferences(self, book: Workbook) -> None:
        out = SheetWriter(book, CONFERENCES, HEADERS[CONFERENCES])
        query = (
            select(Unit.code, Campaign.code, Conference.held_on)
            .join(Unit, Unit.id == Conference.unit_id)
            .join(Campaign, Campaign.id == Conference.campaign_id)
            .where(*self.held())
            .order_by(Campaign.code, Unit.code)
        )
        async for rows in self.stream(query):
            for unit_code, campaign_code, held_on in rows:
                out.append([out.text(unit_code), out.text(campaign_code), out.date(held_on)])
            await self.written(len(rows))

    async def commendations(self, book: Workbook) -> None:
        out = SheetWriter(book, COMMENDATIONS, HEADERS[COMMENDATIONS])
        query = (
            select(
                Model.code,
                Commendation.level,
                Commendation.status,
                Commendation.decision_number,
                Commendation.decided_on,
            )
            .join(Model, Model.id == Commendation.model_id)
            .where(*self.models())
            .order_by(Commendation.model_id, Commendation.id)
        )
        async for rows in self.stream(query):
            for code, level, status, decision_number, decided_on in rows:
                out.append(
                    [
                        out.text(code),
                        LEVEL_LABELS.get(level, level),
                        COMMENDATION_STATUS_LABELS.get(status, status),
                        out.text(decision_number),
                        out.date(decided_on),
                    ]
                )
            await self.written(len(rows))

    async def targets(self, book: Workbook) -> None:
        name, headers = TARGETS_SHEET
        out = SheetWriter(book, name, headers)
        query = (
            select(Model.code, Target.indicator, Target.unit_of_measure, Target.target_value)
            .join(Model, Model.id == Target.model_id)
            .where(*self.models())
            .order_by(Target.model_id, Target.position, Target.id)
        )
        async for rows in self.stream(query):
            for code, indicator, measure, value in rows:
                out.append([out.text(code), out.text(indicator), out.text(measure), number(value)])
            await self.written(len(rows))

    async def summary(self, book: Workbook) -> None:
        figures = await unit_figures(
            self.session,
            models=self.models(),
            campaign_id=self.scope.campaign_id,
            unit_ids=self.scope.unit_ids,
        )
        out = SheetWriter(book, SUMMARY_SHEET, SUMMARY_HEADERS)
        total = UnitFigures()
        for unit_id, code, name, _ in self.units_listed:
            unit = figures.get(unit_id, UnitFigures())
            out.append(_figures_row(out, code, name, unit))
            total.add(unit)
        out.append([out.bold(cell) for cell in _figures_row(out, None, SUMMARY_TOTAL, total)])
        await self.written(len(self.units_listed))


def _figures_row(out: SheetWriter, code: str | None, name: str, unit: UnitFigures) -> list[Any]:
    return [
        out.text(code),
        out.text(name),
        unit.members,
        unit.collective,
        unit.individual,
        number(unit.per_member),
        unit.reports,
        out.date(unit.conference),
        unit.decided,
    ]


def parents_first(units: list[UnitRow]) -> list[UnitRow]:
    """Units in tree order (a parent before its children, each level by code), as the
    organisation reads; a unit whose parent is not exported starts a tree of its own."""
    present = {unit[0] for unit in units}
    children: dict[int | None, list[UnitRow]] = {}
    for unit in units:
        children.setdefault(unit[3] if unit[3] in present else None, []).append(unit)
    ordered: list[UnitRow] = []
    seen: set[int] = set()
    stack = sorted(children.get(None, []), key=lambda u: u[1], reverse=True)
    while stack:
        unit = stack.pop()
        if unit[0] not in seen:
            seen.add(unit[0])
            ordered.append(unit)
            stack += sorted(children.get(unit[0], []), key=lambda u: u[1], reverse=True)
    # Units in a cycle (never made by the bot) are not reached from a root: they go in last.
    return ordered + sorted((u for u in units if u[0] not in seen), key=lambda u: u[1])
