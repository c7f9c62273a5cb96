"""The channel-neutral core: one inbound event in, what to answer out. One database session per
event; everything the person sees is decided from the database, not from process memory."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm.exc import StaleDataError

from handlers.admin import admins as manage_admins
from handlers.admin import (
    audit,
    broadcast,
    campaigns,
    commendations,
    conferences,
    importing,  # noqa: F401 - registers its form
    questions,
    statistics,
    unit_edit,  # noqa: F401 - registers its form
    units,
)
from handlers.admin import coordinators as manage_coordinators
from handlers.admin import fields as manage_fields
from handlers.coordinator import digest, export, followup, invites, join_requests, review
from handlers.core import conversation
from handlers.core.context import CoreConfig, Ctx
from handlers.core.types import Choice, Inbound, Result
from handlers.member import models, onboarding, registration, reminders, reports
from language.texts import Texts
from storage.db import Database, is_busy
from storage.models import Conversation
from storage.records.audit import add_audit_entry
from storage.records.conversations import get_conversation
from storage.records.people import get_or_create_identity

log = logging.getLogger(__name__)

Command = Callable[[Ctx, Conversation | None, str], Awaitable[None]]
MAX_TEXT = 4000
# Record ids typed or pressed: ASCII digits, and few enough to fit a 32-bit column.
ID_RE = re.compile(r"[0-9]{1,9}")


class Core:
    def __init__(self, db: Database, config: CoreConfig, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.texts = Texts(config.language)

    async def handle(self, inbound: Inbound) -> Result:
        try:
            return await self._handle(inbound)
        except StaleDataError:
            # Another replica changed this person's conversation in between: nothing applied.
            log.info("conversation changed concurrently for %s", inbound.external_id)
            result = Result(notice=self.texts("error-concurrent"))
            result.say(self.texts("error-concurrent"))
            return result
        except DBAPIError as error:
            if not is_busy(error):
                raise
            # Another process holds the database (a large import, say) longer than a write
            # waits: the whole update was rolled back, so the same message can simply be sent
            # again.
            log.warning("database busy, update of %s not applied: %s", inbound.external_id, error)
            result = Result(notice=self.texts("error-busy"))
            result.say(self.texts("error-busy"))
            return result

    async def _handle(self, inbound: Inbound) -> Result:
        now = self.clock()
        async with self.db.session() as session:
            identity = await get_or_create_identity(
                session,
                channel=inbound.channel,
                external_id=inbound.external_id,
                chat_id=inbound.chat_id,
                display_name=inbound.display_name,
                now=now,
            )
            ctx = Ctx(session, inbound, identity, now, self.config, self.texts)
            await self._bootstrap_admin(ctx)
            await route(ctx)
            return ctx.result

    async def track_message(self, track: str, channel: str, chat_id: str, message_id: str) -> None:
        """A channel sent a message the core follows (`Outbound.track`): where it went."""
        await broadcast.track_message(
            self.db, track, channel=channel, chat_id=chat_id, message_id=message_id
        )

    async def _bootstrap_admin(self, ctx: Ctx) -> None:
        ids = self.config.bootstrap_admins.get(ctx.inbound.channel, set())
        if ctx.inbound.external_id in ids and not ctx.member.is_admin:
            ctx.member.is_admin = True
            await add_audit_entry(
                ctx.session, at=ctx.now, actor_id=ctx.member.id, action="admin.bootstrap"
            )
            ctx.result.roles_changed.append((ctx.inbound.channel, ctx.inbound.external_id))


async def route(ctx: Ctx) -> None:
    conv = await get_conversation(ctx.session, member_id=ctx.member.id)
    inbound = ctx.inbound
    if conv is not None and not conv.paused and conv.expires_at <= ctx.now:
        conv.paused = True
        await ctx.session.flush()
        if inbound.choice is not None and inbound.choice.startswith(("f:", "d:")):
            # A press on the form that just expired: offer to continue rather than "stale".
            paused_prompt(ctx, conv)
            return
    if inbound.choice is not None:
        await on_choice(ctx, conv, inbound.choice)
        return
    text = (inbound.text or "").strip()
    if inbound.attachment:
        # A caption is not an answer: the attachment is what was sent.
        if conv is not None and not conv.paused:
            await conversation.on_attachment(ctx, conv, inbound.attachment, inbound.file_id)
        else:
            ctx.say("error-attachment-idle")
        return
    if not text:
        ctx.say("error-empty")
        if conv is not None and not conv.paused:
            await conversation.render(ctx, conv)
        return
    if len(text) > MAX_TEXT:
        if conv is not None and not conv.paused:
            note = "⚠️ " + ctx.t("error-too-long", max=MAX_TEXT, length=len(text))
            await conversation.render(ctx, conv, note=note)
        else:
            ctx.say("error-too-long", max=MAX_TEXT, length=len(text))
        return
    if text.startswith("/"):
        name, _, args = text[1:].partition(" ")
        command = COMMANDS.get(name.split("@")[0].lower())
        if command is None:
            ctx.say("unknown-command", command=name[:32])
            return
        await command(ctx, conv, args.strip())
        return
    if conv is None:
        member = await ctx.is_member() or await ctx.is_admin()
        ctx.say("idle-member" if member else "idle-guest")
        return
    if conv.paused:
        paused_prompt(ctx, conv)
        return
    await conversation.on_text(ctx, conv, text)


def paused_prompt(ctx: Ctx, conv: Conversation) -> None:
    title = ctx.label(conversation.flow_of(conv).form.title)
    ctx.result.say(
        ctx.t("draft-paused", title=title),
        [
            [
                Choice(ctx.t("button-continue"), f"d:{conv.version}:c"),
                Choice(ctx.t("button-discard"), f"d:{conv.version}:x"),
            ]
        ],
    )


Press = Callable[[Ctx, Conversation | None, re.Match[str]], Awaitable[None]]


async def press_form(ctx: Ctx, conv: Conversation | None, match: re.Match[str]) -> None:
    kind, version, action = match["kind"], int(match["version"]), match["action"]
    if conv is None or conv.version != version or (kind == "f" and conv.paused):
        ctx.result.notice = ctx.t("button-stale")
        return
    ctx.result.accepted_choice = True
    if kind == "f":
        await conversation.on_button(ctx, conv, action)
    else:
        await on_draft_choice(ctx, conv, action)


async def press_join_request(ctx: Ctx, conv: Conversation | None, match: re.Match[str]) -> None:
    await join_requests.decide_join_request(ctx, int(match["id"]), match["decision"] == "a")


async def press_invite(ctx: Ctx, conv: Conversation | None, match: re.Match[str]) -> None:
    await invites.on_press(ctx, match["action"], int(match["id"]))


async def press_model(ctx: Ctx, conv: Conversation | None, match: re.Match[str]) -> None:
    await models.show_model(ctx, int(match["id"]))


async def as_command(ctx: Ctx, text: str) -> None:
    """A button that starts a form goes the way of its command, so an open form is dealt with
    first, as when the command is typed."""
    ctx.inbound = dataclasses.replace(ctx.inbound, text=text, choice=None)
    await route(ctx)


async def press_report(ctx: Ctx, conv: Conversation | None, match: re.Match[str]) -> None:
    await as_command(ctx, f"/baocao {match['id']}" + (" thaythe" if match["replace"] else ""))


async def press_resubmit(ctx: Ctx, conv: Conversation | None, match: re.Match[str]) -> None:
    await as_command(ctx, f"/suadangky {match['id']}")


async def press_review(ctx: Ctx, conv: Conversation | None, match: re.Match[str]) -> None:
    same = conv is not None and conv.context.get("model_id") == int(match["id"])
    same = same and conv is not None and conv.context.get("decision") == match["action"]
    if match["action"] in ("r", "x") and await busy(ctx, conv, "review-note", same=same):
        return
    await review.on_button(ctx, match["action"], int(match["id"]))


async def press_overdue(ctx: Ctx, conv: Conversation | None, match: re.Match[str]) -> None:
    await followup.remind_overdue(ctx, int(match["id"]))


async def press_evaluate(ctx: Ctx, conv: Conversation | None, match: re.Match[str]) -> None:
    if not await busy(ctx, conv, "evaluation", same=False):
        await followup.start_evaluation(ctx, int(match["id"]))


async def press_commend(ctx: Ctx, conv: Conversation | None, match: re.Match[str]) -> None:
    if not await busy(ctx, conv, "commendation", same=False):
        await commendations.start(ctx, int(match["id"]))


async def press_go(ctx: Ctx, conv: Conversation | None, match: re.Match[str]) -> None:
    await as_command(ctx, f"/{match['command']}")


async def press_questions(ctx: Ctx, conv: Conversation | None, match: re.Match[str]) -> None:
    # Adding starts a form: an open one is dealt with first (for an admin; others are refused).
    adding = match["action"] == "a" and await ctx.is_admin()
    if adding and await busy(ctx, conv, "question", same=False):
        return
    await questions.on_press(
        ctx, int(match["campaign"]), match["form"], match["action"], match["qid"]
    )


async def press_resume(ctx: Ctx, conv: Conversation | None, match: re.Match[str]) -> None:
    """ "Continue where I stopped" (a nudge): shows the current step, applies nothing."""
    if conv is None:
        ctx.say("nothing-to-continue")
        return
    await conversation.resume(ctx, conv)


async def press_edit_campaign(ctx: Ctx, conv: Conversation | None, match: re.Match[str]) -> None:
    if not await ctx.is_admin():
        ctx.say("error-not-allowed")
        return
    campaign_id = int(match["id"])
    same = conv is not None and conv.context.get("campaign_id") == campaign_id
    if not await busy(ctx, conv, "campaign_edit", same=same):
        await campaigns.edit(ctx, campaign_id)


# Button data is untrusted: only these shapes are acted on, ids at most 9 digits.
PRESSES: list[tuple[re.Pattern[str], Press]] = [
    (
        re.compile(r"(?P<kind>[fd]):(?P<version>\d{1,9}):(?P<action>[A-Za-z0-9_:.-]{1,48})"),
        press_form,
    ),
    (re.compile(r"jr:(?P<decision>[ar]):(?P<id>\d{1,9})"), press_join_request),
    (re.compile(r"m:(?P<id>\d{1,9})"), press_model),
    (re.compile(r"iv:(?P<action>[ryn]):(?P<id>\d{1,9})"), press_invite),
    (re.compile(r"rp:(?P<id>\d{1,9})(?P<replace>:r)?"), press_report),
    (re.compile(r"rv:(?P<action>[arxn]):(?P<id>\d{1,9})"), press_review),
    (re.compile(r"ed:(?P<id>\d{1,9})"), press_resubmit),
    (re.compile(r"ov:(?P<id>\d{1,9})"), press_overdue),
    (re.compile(r"ev:(?P<id>\d{1,9})"), press_evaluate),
    (re.compile(r"go:(?P<command>duyet)"), press_go),
    (re.compile(r"kt:(?P<id>\d{1,9})"), press_commend),
    (re.compile(r"resume"), press_resume),
    (re.compile(r"cd:(?P<id>\d{1,9})"), press_edit_campaign),
    (
        re.compile(
            r"qs:(?P<campaign>\d{1,9})(?::(?P<form>registration|report)"
            r"(?::(?P<action>a|h|hy)(?::(?P<qid>q\d{1,6}))?)?)?"
        ),
        press_questions,
    ),
]


async def on_choice(ctx: Ctx, conv: Conversation | None, data: str) -> None:
    for pattern, press in PRESSES:
        match = pattern.fullmatch(data)
        if match is not None:
            await press(ctx, conv, match)
            return
    ctx.result.notice = ctx.t("button-stale")


async def on_draft_choice(ctx: Ctx, conv: Conversation, action: str) -> None:
    if action == "c":
        await conversation.resume(ctx, conv)
    elif action == "x":
        await conversation.cancel(ctx, conv, key="draft-discarded")
    elif action == "n" and (conv.context.get("_next") or conv.context.get("_next_choice")):
        text, choice = conv.context.get("_next"), conv.context.get("_next_choice")
        await conversation.cancel(ctx, conv, key="draft-discarded")
        ctx.inbound = dataclasses.replace(ctx.inbound, text=text, choice=choice)
        await route(ctx)
    else:
        ctx.result.notice = ctx.t("button-stale")


async def busy(ctx: Ctx, conv: Conversation | None, form: str, *, same: bool = True) -> bool:
    """Before a command starts a form: a form in progress is resumed or explicitly discarded,
    never silently thrown away. `same=False`: the open form has that name but is about
    something else (another invite), so it is not simply resumed."""
    if conv is None:
        return False
    if conv.form == form and same:
        await conversation.resume(ctx, conv, note=ctx.t("draft-resumed"))
        return True
    # What was asked (a command, or a pressed button) is done once the open form is discarded.
    conv.context = {
        **conv.context,
        "_next": ctx.inbound.text if ctx.inbound.choice is None else None,
        "_next_choice": ctx.inbound.choice,
    }
    await ctx.session.flush()
    title = ctx.label(conversation.flow_of(conv).form.title)
    ctx.result.say(
        ctx.t("draft-busy", title=title),
        [
            [Choice(ctx.t("button-continue"), f"d:{conv.version}:c")],
            [Choice(ctx.t("button-discard-new"), f"d:{conv.version}:n")],
        ],
    )
    return True


# --- commands ---------------------------------------------------------------------------------


async def cmd_start(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    code = args.split()[0] if args else None
    if conv is not None:
        if code is None:
            await conversation.resume(ctx, conv, note=ctx.t("draft-resumed"))
            return
        if await busy(ctx, conv, "profile", same=conv.context.get("invite") == code):
            return
    await onboarding.start_command(ctx, code)


async def cmd_help(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    keys = []
    if await ctx.is_member():
        keys.append("help-member")
    if await ctx.is_coordinator():
        keys.append("help-coordinator")
    if await ctx.is_admin():
        keys.append("help-admin")
    ctx.result.say(
        "\n\n".join(ctx.t(key) for key in keys or ["help-guest"]) + "\n\n" + ctx.t("help-forms")
    )
    _still_open(ctx, conv)


def _still_open(ctx: Ctx, conv: Conversation | None) -> None:
    if conv is not None:
        ctx.say("draft-open", title=ctx.label(conversation.flow_of(conv).form.title))


async def cmd_cancel(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    if conv is None:
        ctx.say("nothing-to-cancel")
        return
    await conversation.cancel(ctx, conv)


async def cmd_continue(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    if conv is None:
        ctx.say("nothing-to-continue")
        return
    await conversation.resume(ctx, conv)


def _form_key(action: str) -> Command:
    async def command(ctx: Ctx, conv: Conversation | None, args: str) -> None:
        if conv is None:
            ctx.say("nothing-to-continue")
            return
        if conv.paused:
            paused_prompt(ctx, conv)
            return
        await conversation.on_button(ctx, conv, action)

    return command


async def cmd_register(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    if not await ctx.is_member():
        ctx.say("error-not-member")
        return
    if not await busy(ctx, conv, "register"):
        await registration.start_registration(ctx)


async def cmd_report(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    if not await ctx.is_member():
        ctx.say("error-not-member")
        return
    parts = args.split()
    asked = int(parts[0]) if parts and ID_RE.fullmatch(parts[0]) else None
    same = conv is not None and (asked is None or conv.context.get("model_id") == asked)
    if await busy(ctx, conv, "report", same=same):
        return
    if parts and ID_RE.fullmatch(parts[0]):
        await reports.start_report(ctx, int(parts[0]), replace=parts[1:2] == ["thaythe"])
        return
    await reports.choose_model(ctx)


async def cmd_reminders(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    if not await ctx.is_member():
        ctx.say("error-not-member")
        return
    if not await busy(ctx, conv, "reminders"):
        await reminders.start_settings(ctx)


async def cmd_review(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    await review.show_queue(ctx)
    _still_open(ctx, conv)


async def cmd_resubmit(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    if not await ctx.is_member():
        ctx.say("error-not-member")
        return
    if not ID_RE.fullmatch(args.strip()):
        ctx.say("model-not-found")
        return
    if not await busy(ctx, conv, "register"):
        await registration.start_resubmit(ctx, int(args.strip()))


async def cmd_units_state(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    await followup.show_units(ctx)
    _still_open(ctx, conv)


async def cmd_evaluate(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    await followup.list_completed(ctx)
    _still_open(ctx, conv)


async def cmd_digest(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    if not await busy(ctx, conv, "digest"):
        await digest.start_settings(ctx)


async def cmd_stats(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    await statistics.show_stats(ctx, args)
    _still_open(ctx, conv)


async def cmd_audit(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    await audit.show_log(ctx, args)
    _still_open(ctx, conv)


async def cmd_commendations(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    await commendations.list_proposed(ctx)
    _still_open(ctx, conv)


async def cmd_template(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    await statistics.send_template(ctx)


async def cmd_export(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    await export.export_command(ctx, args)
    _still_open(ctx, conv)


async def cmd_models(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    await models.list_models(ctx)
    _still_open(ctx, conv)


def _admin_form(form: str) -> Command:
    async def command(ctx: Ctx, conv: Conversation | None, args: str) -> None:
        if not await ctx.is_admin():
            ctx.say("error-not-allowed")
            return
        if not await busy(ctx, conv, form):
            await conversation.start(ctx, form)

    return command


def _admin_start(form: str, start: Callable[[Ctx], Awaitable[None]]) -> Command:
    """An admin form that shows something first (the current admins, say)."""

    async def command(ctx: Ctx, conv: Conversation | None, args: str) -> None:
        if not await ctx.is_admin():
            ctx.say("error-not-allowed")
            return
        if not await busy(ctx, conv, form):
            await start(ctx)

    return command


async def cmd_invite(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    if not (await ctx.is_admin() or await ctx.is_coordinator()):
        ctx.say("error-not-allowed")
        return
    if not await busy(ctx, conv, "invite"):
        await invites.show(ctx)
        await conversation.start(ctx, "invite")


async def cmd_requests(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    await join_requests.list_join_requests(ctx)
    _still_open(ctx, conv)


def _decide(accept: bool) -> Command:
    async def command(ctx: Ctx, conv: Conversation | None, args: str) -> None:
        if not ID_RE.fullmatch(args.strip()):
            ctx.say("join-usage")
            return
        await join_requests.decide_join_request(ctx, int(args.strip()), accept)

    return command


async def cmd_edit_campaign(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    if not await ctx.is_admin():
        ctx.say("error-not-allowed")
        return
    campaign_id = await campaigns.choose(ctx, args.strip())
    if campaign_id is not None:
        same = conv is not None and conv.context.get("campaign_id") == campaign_id
        if not await busy(ctx, conv, "campaign_edit", same=same):
            await campaigns.edit(ctx, campaign_id)


async def cmd_conference(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    if not await ctx.is_admin():
        ctx.say("error-not-allowed")
        return
    if not await conferences.any_campaign(ctx):
        ctx.say("conference-no-campaign")
        return
    if not await busy(ctx, conv, "conference"):
        await conversation.start(ctx, "conference")


async def cmd_questions(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    await questions.command(ctx, args)
    _still_open(ctx, conv)


async def cmd_units(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    if not await ctx.is_admin():
        ctx.say("error-not-allowed")
        return
    await units.list_units(ctx)


COMMANDS: dict[str, Command] = {
    "start": cmd_start,
    "help": cmd_help,
    "trogiup": cmd_help,
    "huy": cmd_cancel,
    "tieptuc": cmd_continue,
    "quaylai": _form_key("b"),
    "boqua": _form_key("s"),
    "dangky": cmd_register,
    "mohinh": cmd_models,
    "baocao": cmd_report,
    "nhacnho": cmd_reminders,
    "duyet": cmd_review,
    "suadangky": cmd_resubmit,
    "donvi": cmd_units_state,
    "danhgia": cmd_evaluate,
    "tomtat": cmd_digest,
    "thongke": cmd_stats,
    "nhatky": cmd_audit,
    "khenthuong": cmd_commendations,
    "maunhap": cmd_template,
    "xuatexcel": cmd_export,
    "hoinghi": cmd_conference,
    "moi": cmd_invite,
    "yeucau": cmd_requests,
    "chapnhan": _decide(True),
    "tuchoi": _decide(False),
    "themdonvi": _admin_form("unit"),
    "cacdonvi": cmd_units,
    "taodot": _admin_form("campaign"),
    "suadot": cmd_edit_campaign,
    "nhapexcel": _admin_form("import"),
    "cauhoi": cmd_questions,
    "suadonvi": _admin_form("unitedit"),
    "phutrach": _admin_start("coordinators", manage_coordinators.start),
    "quantri": _admin_start("admins", manage_admins.start),
    "linhvuc": _admin_start("fields", manage_fields.start),
    "thongbao": _admin_form("broadcast"),
}
