"""Check the rows of an import workbook against each other and against the database: every
problem, in sheet and row order, before anything is written (`excel/records_import.py`)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from excel.layout import LEVEL_VALUES
from excel.rows import (
    CAMPAIGNS,
    COMMENDATIONS,
    CONFERENCES,
    REGISTRATIONS,
    SHEET_ORDER,
    TARGETS,
    UNITS,
    WorkbookRows,
    loose_key,
)
from excel.units_import import Problem, validate_unit_rows
from storage.models import Campaign, Field, Member, Model, Unit
from storage.periods import MONTHLY, period_containing
from storage.stats import indicator_key

# Values per IN list: PostgreSQL (asyncpg) takes at most 32767 parameters in a statement.
CHUNK = 10_000
# A campaign first known from a workbook reports monthly, due on the 25th, as the chat's default.
DEFAULT_DUE_DAY = 25
LEVEL_LABELS = {value: label for label, value in LEVEL_VALUES.items()}
T = TypeVar("T")


def code_key(code: str) -> str:
    return code.upper()


def chunks(values: Iterable[T]) -> Iterator[list[T]]:
    items = list(dict.fromkeys(values))
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


async def fetch_in_chunks(
    session: AsyncSession, values: Iterable[T], query: Callable[[list[T]], Select[Any]]
) -> list[Any]:
    found: list[Any] = []
    for chunk in chunks(values):
        found += (await session.scalars(query(chunk))).all()
    return found


@dataclass
class Stored:
    """What the database already holds that the file refers to."""

    campaigns: dict[str, Campaign]  # by code key
    units: list[Unit]
    fields: dict[str, Field]  # by loose name key, hidden ones too
    visible_fields: list[str]
    models: dict[str, Model]  # the models the file names, by code key
    owners: dict[int, str]  # their owners' names

    campaigns_by_id: dict[int, Campaign] = field(init=False)

    def __post_init__(self) -> None:
        self.campaigns_by_id = {c.id: c for c in self.campaigns.values()}

    def campaign_by_id(self, campaign_id: int) -> Campaign | None:
        return self.campaigns_by_id.get(campaign_id)


def _model_codes(rows: WorkbookRows) -> set[str]:
    codes = [r.code for r in rows.models]
    codes += [r.model for r in (*rows.targets, *rows.results, *rows.commendations)]
    return {code_key(code) for code in codes if code}


async def load_stored(session: AsyncSession, rows: WorkbookRows) -> Stored:
    campaigns = (await session.scalars(select(Campaign))).all()
    fields = (await session.scalars(select(Field).order_by(Field.position, Field.id))).all()
    models = await fetch_in_chunks(
        session,
        sorted(_model_codes(rows)),
        lambda chunk: select(Model).where(func.upper(Model.code).in_(chunk)),
    )
    owners = {}
    for chunk in chunks(m.owner_id for m in models if m.owner_id is not None):
        owners.update(
            (
                await session.execute(
                    select(Member.id, Member.full_name).where(Member.id.in_(chunk))
                )
            ).all()
        )
    return Stored(
        campaigns={code_key(c.code): c for c in campaigns},
        units=list((await session.scalars(select(Unit))).all()),
        fields={loose_key(f.name): f for f in fields},
        visible_fields=[f.name for f in fields if not f.hidden],
        models={code_key(m.code): m for m in models},
        owners={k: v or "" for k, v in owners.items()},
    )


# --- checking ---------------------------------------------------------------------------------


class Checker:
    def __init__(self, rows: WorkbookRows, stored: Stored) -> None:
        self.rows = rows
        self.stored = stored
        self.problems: list[Problem] = []
        self.campaigns = {}  # code key -> first row
        for c in rows.campaigns:
            if c.code:
                self.campaigns.setdefault(code_key(c.code), c)
        self.unit_keys = {code_key(u.code) for u in stored.units}
        self.unit_keys |= {code_key(u.code) for u in rows.units if u.code}
        self.models = {}  # code key -> first row
        for m in rows.models:
            if m.code:
                self.models.setdefault(code_key(m.code), m)

    def add(self, sheet: str, row: int | None, key: str, /, **params: object) -> None:
        self.problems.append(Problem(row, key, params, sheet=sheet))

    def once(
        self,
        seen: dict[Any, int],
        key: object,
        sheet: str,
        row: int,
        problem: str,
        /,
        **params: object,
    ) -> None:
        """A row whose key an earlier row of the file has: reported, naming that first row."""
        if key in seen:
            self.add(sheet, row, problem, **params, other=seen[key])
        seen.setdefault(key, row)

    def campaign_known(self, sheet: str, row: int, code: str) -> bool:
        if code_key(code) in self.campaigns or code_key(code) in self.stored.campaigns:
            return True
        self.add(sheet, row, "import-unknown-campaign", code=code, sheet=CAMPAIGNS)
        return False

    def unit_known(self, sheet: str, row: int, code: str) -> bool:
        if code_key(code) in self.unit_keys:
            return True
        self.add(sheet, row, "import-unknown-unit", code=code, sheet=UNITS)
        return False

    def model_known(self, sheet: str, row: int, code: str) -> bool:
        if code_key(code) in self.models or code_key(code) in self.stored.models:
            return True
        self.add(sheet, row, "import-unknown-model", code=code, sheet=REGISTRATIONS)
        return False

    def campaign_end(self, key: str) -> date | None:
        row = self.campaigns.get(key)
        if row is not None:
            return row.ends_on
        stored = self.stored.campaigns.get(key)
        return stored.ends_on if stored else None

    def rhythm(self, model_key: str) -> tuple[str, int] | None:
        """The cadence and due day of a model's campaign, as they will be after the import."""
        row = self.models.get(model_key)
        if row is not None:
            key = code_key(row.campaign) if row.campaign else None
            stored = self.stored.campaigns.get(key) if key else None
            given = self.campaigns.get(key) if key else None
            if stored is not None or given is not None:
                # What the file says wins; what it leaves out stays as stored (or the default).
                cadence = (given.cadence if given else None) or (
                    stored.cadence if stored else MONTHLY
                )
                due_day = (given.due_day if given else None) or (
                    stored.due_day if stored else DEFAULT_DUE_DAY
                )
                return cadence, due_day
            return None
        model = self.stored.models.get(model_key)
        campaign = self.stored.campaign_by_id(model.campaign_id) if model else None
        return (campaign.cadence, campaign.due_day) if campaign else None

    def check(self) -> list[Problem]:
        self.check_campaigns()
        self.check_units()
        self.check_models()
        self.check_targets()
        self.check_results()
        self.check_conferences()
        self.check_commendations()
        return self.problems

    def check_campaigns(self) -> None:
        for c in self.rows.campaigns:
            first = self.campaigns.get(code_key(c.code)) if c.code else None
            if first is not None and first is not c:
                self.add(
                    CAMPAIGNS, c.row, "import-duplicate-campaign", code=c.code, other=first.row
                )
            if c.starts_on and c.ends_on and c.ends_on < c.starts_on:
                self.add(CAMPAIGNS, c.row, "import-dates-order", start=c.starts_on, end=c.ends_on)

    def check_units(self) -> None:
        if not self.rows.units:
            return
        codes = {u.id: u.code for u in self.stored.units}
        hierarchy = {u.code: codes.get(u.parent_id) for u in self.stored.units}
        for problem in validate_unit_rows(
            self.rows.units, set(hierarchy), existing_parents=hierarchy
        ):
            self.problems.append(replace(problem, sheet=UNITS))

    def check_models(self) -> None:
        unknown_field = False
        for m in self.rows.models:
            stored = self.stored.models.get(code_key(m.code)) if m.code else None
            first = self.models.get(code_key(m.code)) if m.code else None
            if first is not None and first is not m:
                self.add(
                    REGISTRATIONS, m.row, "import-duplicate-model", code=m.code, other=first.row
                )
            if m.campaign and self.campaign_known(REGISTRATIONS, m.row, m.campaign):
                was = self.stored.campaign_by_id(stored.campaign_id) if stored else None
                end = self.campaign_end(code_key(m.campaign))
                if was is not None and code_key(was.code) != code_key(m.campaign):
                    self.add(
                        REGISTRATIONS,
                        m.row,
                        "import-model-other-campaign",
                        code=m.code,
                        stored=was.code,
                        campaign=m.campaign,
                    )
                elif m.registered_on and end and m.registered_on > end:
                    self.add(
                        REGISTRATIONS,
                        m.row,
                        "import-registered-late",
                        date=m.registered_on,
                        campaign=m.campaign,
                        end=end,
                    )
            if m.unit:
                self.unit_known(REGISTRATIONS, m.row, m.unit)
            if m.field and loose_key(m.field) not in self.stored.fields:
                self.add(REGISTRATIONS, m.row, "import-unknown-field", field=m.field)
                unknown_field = True
        if unknown_field:
            self.add(REGISTRATIONS, None, "import-known-fields", fields=self.stored.visible_fields)

    def check_targets(self) -> None:
        seen: dict[tuple[str, tuple[str, str]], int] = {}
        for t in self.rows.targets:
            if not t.model or not self.model_known(TARGETS, t.row, t.model):
                continue
            if t.indicator and t.measure:
                key = (code_key(t.model), indicator_key(t.indicator, t.measure))
                self.once(
                    seen,
                    key,
                    TARGETS,
                    t.row,
                    "import-duplicate-target",
                    code=t.model,
                    indicator=t.indicator,
                )

    def check_results(self) -> None:
        seen: dict[tuple[str, tuple[str, str], date], int] = {}
        for r in self.rows.results:
            if not r.model or not self.model_known(r.sheet, r.row, r.model):
                continue
            rhythm = self.rhythm(code_key(r.model))
            if not (r.indicator and r.measure and r.reported_on and rhythm):
                continue
            period = period_containing(r.reported_on, cadence=rhythm[0], due_day=rhythm[1])
            key = (code_key(r.model), indicator_key(r.indicator, r.measure), period.start)
            self.once(
                seen,
                key,
                r.sheet,
                r.row,
                "import-duplicate-result",
                code=r.model,
                indicator=r.indicator,
                start=period.start,
                end=period.end,
            )

    def check_conferences(self) -> None:
        seen: dict[tuple[str, str], int] = {}
        for c in self.rows.conferences:
            unit = bool(c.unit) and self.unit_known(CONFERENCES, c.row, c.unit or "")
            campaign = bool(c.campaign) and self.campaign_known(
                CONFERENCES, c.row, c.campaign or ""
            )
            if unit and campaign and c.unit and c.campaign:
                key = (code_key(c.unit), code_key(c.campaign))
                self.once(
                    seen,
                    key,
                    CONFERENCES,
                    c.row,
                    "import-duplicate-conference",
                    unit=c.unit,
                    campaign=c.campaign,
                )

    def check_commendations(self) -> None:
        seen: dict[tuple[str, str], int] = {}
        for c in self.rows.commendations:
            if not c.model or not self.model_known(COMMENDATIONS, c.row, c.model):
                continue
            if c.level:
                key = (code_key(c.model), c.level)
                self.once(
                    seen,
                    key,
                    COMMENDATIONS,
                    c.row,
                    "import-duplicate-commendation",
                    code=c.model,
                    level=LEVEL_LABELS[c.level],
                )


# Problems about a sheet as a whole come before its rows, except these notes on the rows.
_AFTER_ROWS = frozenset({"import-known-fields"})


_CONTINUED = re.compile(r"(?P<sheet>.+) \((?P<part>\d+)\)")


def problem_order(problem: Problem) -> tuple[int, int, float]:
    """By sheet in the layout's order (a sheet continued past Excel's row limit, "Kết quả (2)",
    right after its first part), then by row."""
    name, part = problem.sheet, 1
    continued = _CONTINUED.fullmatch(name or "")
    if continued is not None and continued["sheet"] in SHEET_ORDER:
        name, part = continued["sheet"], int(continued["part"])
    sheet = SHEET_ORDER.index(name) + 1 if name in SHEET_ORDER else 0
    if problem.row is None:
        return sheet, part, float("inf") if problem.key in _AFTER_ROWS else 0
    return sheet, part, problem.row


async def check_workbook(session: AsyncSession, rows: WorkbookRows) -> tuple[Stored, list[Problem]]:
    """What the database holds that the file refers to, and every problem of the file."""
    stored = await load_stored(session, rows)
    return stored, sorted([*rows.problems, *Checker(rows, stored).check()], key=problem_order)
