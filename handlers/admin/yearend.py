"""/baocaotongket [MÃ ĐỢT | NĂM | NĂM-NĂM]: the year-end report as a Word document, for admins,
drafted in the background (`handlers/core/jobs.py`) and sent as a file (a download link on
Zalo). The same document as `dvk report`, with the figures /thongke gives for the same scope.

Who issues it (the committee, its superior, the place, the signer's title) is kept per
top-level unit (storage/records/issuers.py): the first /baocaotongket asks for them, and
`/baocaotongket sua` changes them. With several top-level units (a country-wide installation),
the unit's code follows the scope: `/baocaotongket DVK2123 DUK`."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from handlers.admin.statistics import resolve_scope, stats_chart
from handlers.core import conversation, jobs
from handlers.core.commands import Command, Role
from handlers.core.context import Ctx
from handlers.core.flow import Flow, register
from handlers.core.jobs import Job, JobIO
from handlers.core.types import Outbound
from handlers.forms.spec import FieldSpec, FormSpec
from handlers.shared.charts import drawn
from reports.yearend import Issuer, build_report, gather
from storage.conversation_state import ConversationContext
from storage.models import Campaign, Conversation, Unit
from storage.records.audit import add_audit_entry
from storage.records.issuers import FIELDS, issuer_of, save_issuer, top_units

JOB_KEY = "yearend"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def report_name(today: date, scope: str | None) -> str:
    """bao-cao-tong-ket-DVK26-2026-12-06.docx, bao-cao-tong-ket-2021-2023-2026-12-06.docx."""
    middle = f"{_UNSAFE.sub('-', scope).strip('-.')}-" if scope else ""
    return f"bao-cao-tong-ket-{middle}{today.isoformat()}.docx"


EDIT = "sua"  # `/baocaotongket sua [UNIT]`: change who issues the report


async def issuing_unit(ctx: Ctx, words: list[str]) -> tuple[Unit | None, list[str]]:
    """The top-level unit the report is issued for: named by the last word, or the only one
    there is; None (and the choice said) when there are several and none is named. The other
    words are the scope."""
    units = await top_units(ctx.session)
    if words:
        named = next((u for u in units if u.code.upper() == words[-1].upper()), None)
        if named is not None:
            return named, words[:-1]
    if len(units) == 1:
        return units[0], words
    if not units:
        ctx.say("yearend-no-unit")
    else:
        ctx.say("yearend-which-unit", codes=", ".join(u.code for u in units), first=units[0].code)
    return None, words


async def yearend_command(ctx: Ctx, args: str) -> None:
    if not await ctx.is_admin():
        ctx.say("error-not-allowed")
        return
    words = args.split()
    editing = bool(words) and words[0].lower() == EDIT
    unit, words = await issuing_unit(ctx, words[1:] if editing else words)
    if unit is None:
        return
    if editing:
        await ask_issuer(ctx, unit, args="", draft=False)
        return
    scope = await resolve_scope(ctx.session, " ".join(words), today=ctx.today)
    if isinstance(scope, str):
        ctx.say(scope, code=" ".join(words)[:32])
        ctx.say("yearend-usage")
        return
    issuer = await issuer_of(ctx.session, unit_id=unit.id)
    if issuer is None or not issuer.committee:
        # The first report: who issues it is asked once, then the report is drafted.
        ctx.say("yearend-issuer-first", unit=unit.name)
        await ask_issuer(ctx, unit, args=" ".join(words), draft=True)
        return
    await draft(ctx, unit.id, scope)


async def draft(
    ctx: Ctx, unit_id: int, scope: tuple[Campaign | None, tuple[int, int] | None]
) -> None:
    campaign, years = scope
    drafting = YearEndDraft(
        ctx.member.id,
        campaign.id if campaign else None,
        campaign.code if campaign else None,
        years,
        unit_id,
    )
    await jobs.start(
        ctx, Job(JOB_KEY, ctx.t("yearend-started"), ctx.t("yearend-busy"), drafting.run)
    )


async def ask_issuer(ctx: Ctx, unit: Unit, *, args: str, draft: bool) -> None:
    """The form of who issues the report; with `draft`, the report of the scope `args` (the
    open campaign when empty) is drafted once it is saved. Kept values are shown in its summary,
    to change any."""
    issuer = await issuer_of(ctx.session, unit_id=unit.id)
    known = {n: getattr(issuer, n) for n in FIELDS if issuer and getattr(issuer, n)}
    context: ConversationContext = {
        "unit_id": unit.id,
        "scope": args,
        "draft": draft,
    }
    await conversation.start(ctx, "yearend_issuer", context, known or None)


def _text(name: str, limit: int, *, required: bool = True) -> FieldSpec:
    return FieldSpec(
        name,
        "text",
        f"label-issuer-{name}",
        f"ask-issuer-{name}",
        max_length=limit,
        min_length=2,
        required=required,
    )


class IssuerFlow(Flow):
    form = FormSpec(
        "yearend_issuer",
        "form-yearend-issuer",
        (
            _text("committee", 200),
            _text("superior", 200, required=False),
            _text("place", 100),
            _text("signer", 100),
        ),
        confirm_label="button-save-issuer",
    )

    async def allowed(self, ctx: Ctx, conv: Conversation) -> bool:
        return await ctx.is_admin()

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        unit = await ctx.session.get(Unit, conv.context["unit_id"])
        if unit is None:
            ctx.say("unit-not-found")
            return
        values = {name: answers.get(name) for name in FIELDS}
        await save_issuer(
            ctx.session, unit_id=unit.id, values=values, by=ctx.member.id, now=ctx.now
        )
        await add_audit_entry(
            ctx.session,
            at=ctx.now,
            actor_id=ctx.member.id,
            action="yearend.issuer",
            object_type="unit",
            object_id=unit.id,
            details={name: value for name, value in values.items() if value},
        )
        ctx.say("yearend-issuer-saved", unit=unit.name)
        if not conv.context.get("draft"):
            return
        scope = await resolve_scope(ctx.session, conv.context.get("scope", ""), today=ctx.today)
        if isinstance(scope, str):  # the campaign went meanwhile
            ctx.say(scope, code=conv.context.get("scope", "")[:32])
            return
        await draft(ctx, unit.id, scope)


register(IssuerFlow())


@dataclass(frozen=True)
class YearEndDraft:
    member_id: int
    campaign_id: int | None
    campaign_code: str | None
    years: tuple[int, int] | None
    unit_id: int

    @property
    def scope(self) -> str | None:
        if self.years is None:
            return self.campaign_code
        first, last = self.years
        return str(first) if first == last else f"{first}-{last}"

    async def run(self, io: JobIO) -> None:
        async with io.db.read() as session:
            if not await io.admin_now(session, self.member_id):
                return
            campaign = None
            if self.campaign_id is not None:
                campaign = await session.get(Campaign, self.campaign_id)
            data = await gather(
                session,
                campaign=campaign,
                years=self.years,
                tz=io.config.timezone,
                unit_id=self.unit_id,
            )
            kept = await issuer_of(session, unit_id=self.unit_id)
            issuer = Issuer(*(getattr(kept, name) if kept else None for name in FIELDS))
        today = io.clock().astimezone(io.config.timezone).date()
        chart = await drawn(stats_chart, io.t, data.stats)
        document = await asyncio.to_thread(
            build_report,
            io.t,
            data,
            issuer=issuer,
            today=today,
            chart=chart,
            template=io.config.report_template,
        )
        async with io.db.session() as session:
            await add_audit_entry(
                session,
                at=io.clock(),
                actor_id=self.member_id,
                action="yearend.drafted",
                details={
                    "campaign": self.campaign_code,
                    "years": self.scope if self.years else None,
                },
            )
        name = report_name(today, self.scope)
        await io.deliver([Outbound(io.t("yearend-done"), document=(name, document))])


COMMANDS = (
    Command(
        ("baocaotongket",),
        Role.ADMIN,
        lambda ctx, conv, args: yearend_command(ctx, args),
        # The first time (and `sua`) asks who issues it, in a form.
        opens="yearend_issuer",
    ),
)
