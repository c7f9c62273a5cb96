"""Import paper records from the workbook: all or nothing, and idempotent.

The rows (`excel/rows.py`) are checked against each other and against the database first
(`excel/check.py`); only a clean file is written, in the caller's unit of work (the results sheet
by `excel/results_import.py`).
Everything is matched by its natural key (campaigns, units and models by code; targets by model
and indicator; reports by model and reporting period; report values by report and target;
conferences by unit and campaign; commendations by model and level) and set to what the file
says, so importing the same file again changes nothing.

New rows are inserted in bulk (one statement per batch, not per row: a file can hold tens of
thousands of rows) and their ids read back by their natural keys; changed rows are updated
through the session.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from excel.check import (
    DEFAULT_DUE_DAY,
    Stored,
    check_workbook,
    code_key,
    fetch_in_chunks,
)
from excel.results_import import midnight, stored_amount, write_results
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
from excel.units_import import ImportFileError, Problem, write_units
from language.vietnamese import title_key
from storage import rules
from storage.models import (
    Campaign,
    Commendation,
    Conference,
    Model,
    Target,
)
from storage.periods import MONTHLY
from storage.records.audit import add_audit_entry
from storage.records.units import lock_units
from storage.stats import indicator_key


@dataclass
class Counts:
    added: int = 0
    updated: int = 0
    unchanged: int = 0

    def count(self, changed: bool | None) -> None:
        """None: a new row; True: an existing row was changed; False: it already was so."""
        if changed is None:
            self.added += 1
        elif changed:
            self.updated += 1
        else:
            self.unchanged += 1


@dataclass
class WorkbookSummary:
    file_name: str
    sheets: dict[str, Counts] = field(default_factory=dict)  # the file's sheets, in order

    @property
    def changed(self) -> bool:
        return any(c.added or c.updated for c in self.sheets.values())


def _assign(record: object, values: dict[str, Any]) -> bool:
    """Set what differs; True when anything did."""
    changed = False
    for name, value in values.items():
        if getattr(record, name) != value:
            setattr(record, name, value)
            changed = True
    return changed


class RecordWriter:
    """Writes a checked file's rows, sheet by sheet, and counts what each changed."""

    def __init__(
        self,
        session: AsyncSession,
        rows: WorkbookRows,
        stored: Stored,
        *,
        now: datetime,
        tz: ZoneInfo,
        actor_id: int | None,
    ) -> None:
        self.session = session
        self.rows = rows
        self.stored = stored
        self.now = now
        self.tz = tz
        self.actor_id = actor_id
        self.counts = {sheet: Counts() for sheet in SHEET_ORDER if sheet in rows.present}
        self.campaigns = dict(stored.campaigns)
        self.units = {code_key(u.code): u for u in stored.units}
        self.models = dict(stored.models)
        self.targets: dict[tuple[int, tuple[str, str]], Target] = {}
        self.by_id: dict[int, Campaign] = {}  # every campaign, once the file's are stored
        # Rows that would change what a member registered or reported in the chat.
        self.owned: list[Problem] = []

    async def insert_rows(self, model: type, values: list[dict[str, Any]]) -> None:
        if values:
            await self.session.execute(insert(model), values)

    async def write(self) -> dict[str, Counts]:
        await self.write_campaigns()
        if self.rows.units:
            summary, self.units = await write_units(
                self.session, rows=self.rows.units, units=self.stored.units, now=self.now
            )
            self.counts[UNITS] = Counts(summary.added, summary.updated, summary.unchanged)
        await self.write_models()
        await self.write_targets()
        await write_results(self)
        await self.write_conferences()
        await self.write_commendations()
        await self.session.flush()
        return self.counts

    async def write_campaigns(self) -> None:
        for c in self.rows.campaigns:
            assert c.code and c.name and c.starts_on and c.ends_on
            values = {"name": c.name, "starts_on": c.starts_on, "ends_on": c.ends_on}
            # The rhythm and window only where the file gives them (an export does).
            optional = {
                "cadence": c.cadence,
                "due_day": c.due_day,
                "registration_opens_on": c.registration_opens_on,
                "registration_closes_on": c.registration_closes_on,
            }
            values |= {name: value for name, value in optional.items() if value is not None}
            campaign = self.campaigns.get(code_key(c.code))
            if campaign is None:
                campaign = Campaign(
                    code=c.code,
                    questions=[],
                    created_at=self.now,
                    **({"cadence": MONTHLY, "due_day": DEFAULT_DUE_DAY} | values),
                )
                self.session.add(campaign)
                self.campaigns[code_key(c.code)] = campaign
                self.counts[CAMPAIGNS].count(None)
            else:
                self.counts[CAMPAIGNS].count(_assign(campaign, values))
        await self.session.flush()

    async def write_models(self) -> None:
        new: dict[str, dict[str, Any]] = {}
        for m in self.rows.models:
            assert m.code and m.campaign and m.unit and m.kind and m.name and m.title
            assert m.field and m.registered_on
            campaign = self.campaigns[code_key(m.campaign)]
            values: dict[str, Any] = {
                "unit_id": self.units[code_key(m.unit)].id,
                "kind": m.kind,
                "title": m.title,
                "title_key": title_key(m.title),
                "field_id": self.stored.fields[loose_key(m.field)].id,
                "registered_on": m.registered_on,
            }
            if m.status:
                values["status"] = m.status
            model = self.models.get(code_key(m.code))
            if model is not None and model.owner_id is not None:
                # A model registered in the chat is its owner's: a file may repeat it (its
                # own export), never change it.
                if any(getattr(model, name) != value for name, value in values.items()):
                    self.owned.append(
                        Problem(m.row, "import-owned-model", {"code": m.code}, sheet=REGISTRATIONS)
                    )
                else:
                    self.counts[REGISTRATIONS].count(False)
                continue
            # A model registered in the chat keeps the dates and the time its owner gave.
            if model is None or model.owner_id is None:
                values |= {
                    "starts_on": max(m.registered_on, campaign.starts_on),
                    "ends_on": campaign.ends_on,
                    "submitted_at": midnight(m.registered_on, self.tz),
                }
            # An individual registered in the chat is named by the owner's name, not stored.
            own_name = (
                model is not None
                and model.owner_id is not None
                and model.collective_name is None
                and m.name == self.stored.owners.get(model.owner_id)
            )
            if not own_name:
                values["collective_name"] = m.name
            if model is None:
                new[m.code] = {
                    "status": rules.APPROVED,
                    **values,
                    "code": m.code,
                    "campaign_id": campaign.id,
                    "owner_id": None,
                    "headcount": None,
                    "approach": "",
                    "objectives": "",
                    "extra": {},
                    "created_at": self.now,
                    "updated_at": self.now,
                }
                self.counts[REGISTRATIONS].count(None)
            else:
                changed = _assign(model, values)
                if changed:
                    model.updated_at = self.now
                self.counts[REGISTRATIONS].count(changed)
        await self.insert_rows(Model, list(new.values()))
        for model in await fetch_in_chunks(
            self.session, new, lambda chunk: select(Model).where(Model.code.in_(chunk))
        ):
            self.models[code_key(model.code)] = model

    async def _load_targets(self) -> None:
        ids = [m.id for m in self.models.values()]
        for target in await fetch_in_chunks(
            self.session, ids, lambda chunk: select(Target).where(Target.model_id.in_(chunk))
        ):
            key = (target.model_id, indicator_key(target.indicator, target.unit_of_measure))
            self.targets[key] = target

    async def write_targets(self) -> None:
        if not (self.rows.targets or self.rows.results):
            return
        await self._load_targets()
        positions: dict[int, int] = {}
        for (model_id, _), target in self.targets.items():
            positions[model_id] = max(positions.get(model_id, 0), target.position)
        new: dict[tuple[int, tuple[str, str]], dict[str, Any]] = {}

        def add(model: Model, indicator: str, measure: str, value: Decimal) -> None:
            positions[model.id] = positions.get(model.id, 0) + 1
            new[(model.id, indicator_key(indicator, measure))] = {
                "model_id": model.id,
                "position": positions[model.id],
                "indicator": indicator,
                "unit_of_measure": measure,
                "target_value": value,
            }

        for t in self.rows.targets:
            assert t.model and t.indicator and t.measure and t.value is not None
            model = self.models[code_key(t.model)]
            value = stored_amount(t.value)
            target = self.targets.get((model.id, indicator_key(t.indicator, t.measure)))
            if model.owner_id is not None and (
                target is None or stored_amount(Decimal(target.target_value)) != value
            ):
                # The targets of a model registered in the chat are its owner's, too.
                self.owned.append(
                    Problem(t.row, "import-owned-model", {"code": t.model}, sheet=TARGETS)
                )
                continue
            if target is None:
                add(model, t.indicator, t.measure, value)
                self.counts[TARGETS].count(None)
            else:
                same = stored_amount(Decimal(target.target_value)) == value
                if not same:
                    target.target_value = value
                self.counts[TARGETS].count(not same)
        # A result may be the first word of a target: it starts with nothing to reach.
        for r in self.rows.results:
            assert r.model and r.indicator and r.measure
            model = self.models[code_key(r.model)]
            key = (model.id, indicator_key(r.indicator, r.measure))
            if key not in self.targets and key not in new:
                add(model, r.indicator, r.measure, Decimal(0))
        if new:
            await self.insert_rows(Target, list(new.values()))
            await self._load_targets()

    async def write_conferences(self) -> None:
        if not self.rows.conferences:
            return
        campaign_ids = {
            self.campaigns[code_key(c.campaign or "")].id for c in self.rows.conferences
        }
        stored = {
            (c.unit_id, c.campaign_id): c
            for c in await fetch_in_chunks(
                self.session,
                sorted(campaign_ids),
                lambda chunk: select(Conference).where(Conference.campaign_id.in_(chunk)),
            )
        }
        added = []
        for c in self.rows.conferences:
            assert c.unit and c.campaign and c.held_on
            unit_id = self.units[code_key(c.unit)].id
            campaign_id = self.campaigns[code_key(c.campaign)].id
            conference = stored.get((unit_id, campaign_id))
            if conference is None:
                added.append(
                    {
                        "unit_id": unit_id,
                        "campaign_id": campaign_id,
                        "held_on": c.held_on,
                        "recorded_by": self.actor_id,
                        "recorded_at": self.now,
                    }
                )
                self.counts[CONFERENCES].count(None)
                continue
            changed = _assign(conference, {"held_on": c.held_on})
            if changed:
                conference.recorded_by, conference.recorded_at = self.actor_id, self.now
            self.counts[CONFERENCES].count(changed)
        await self.insert_rows(Conference, added)

    async def write_commendations(self) -> None:
        if not self.rows.commendations:
            return
        ids = {self.models[code_key(c.model or "")].id for c in self.rows.commendations}
        stored = {
            (c.model_id, c.level): c
            for c in await fetch_in_chunks(
                self.session,
                sorted(ids),
                lambda chunk: select(Commendation).where(Commendation.model_id.in_(chunk)),
            )
        }
        added = []
        for c in self.rows.commendations:
            assert c.model and c.level and c.status
            model_id = self.models[code_key(c.model)].id
            values = {
                "status": c.status,
                "decision_number": c.decision_number,
                "decided_on": c.decided_on,
            }
            commendation = stored.get((model_id, c.level))
            if commendation is None:
                added.append(
                    {
                        "model_id": model_id,
                        "level": c.level,
                        "recorded_by": self.actor_id,
                        "recorded_at": self.now,
                        **values,
                    }
                )
                self.counts[COMMENDATIONS].count(None)
                continue
            changed = _assign(commendation, values)
            if changed:
                commendation.recorded_by, commendation.recorded_at = self.actor_id, self.now
            self.counts[COMMENDATIONS].count(changed)
        await self.insert_rows(Commendation, added)


async def import_workbook(
    session: AsyncSession,
    *,
    rows: WorkbookRows,
    now: datetime,
    timezone: ZoneInfo,
    actor_id: int | None = None,
) -> WorkbookSummary:
    """Check the whole file, then store it. Raises ImportFileError with every problem, having
    written nothing. Never commits."""
    if rows.units:
        # The unit tree is checked as it is, locked: an admin's move meanwhile cannot make a
        # loop with the file's parents.
        await lock_units(session)
    stored, problems = await check_workbook(session, rows)
    if problems:
        raise ImportFileError(problems)
    writer = RecordWriter(session, rows, stored, now=now, tz=timezone, actor_id=actor_id)
    # What only writing finds (a change to a model registered in the chat) undoes it all.
    async with session.begin_nested():
        sheets = await writer.write()
        if writer.owned:
            raise ImportFileError(writer.owned)
    summary = WorkbookSummary(rows.file_name, sheets)
    if summary.changed:
        await add_audit_entry(
            session,
            at=now,
            actor_id=actor_id,
            action="import.workbook",
            details={
                "file": rows.file_name,
                "sheets": {
                    sheet: {"added": c.added, "updated": c.updated, "unchanged": c.unchanged}
                    for sheet, c in summary.sheets.items()
                },
            },
        )
    return summary
