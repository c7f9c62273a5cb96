"""The channel-neutral core: one inbound event in, what to answer out. One database session per
event; everything the person sees is decided from the database, not from process memory.
Commands and buttons are the features' declarations (`handlers/core/commands.py`): the router
checks the role each declares, deals with a form left open, and hands over."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.exc import StaleDataError

from handlers.core import buttons, consent, conversation, numbered, typed
from handlers.core.commands import Command, holds, registry
from handlers.core.context import CoreConfig, Ctx
from handlers.core.drafts import busy, paused_prompt, still_open
from handlers.core.flow import FLOWS
from handlers.core.observe import Observer
from handlers.core.types import Inbound, Result
from language.texts import Texts
from storage.db import Database, is_busy
from storage.models import Conversation, Identity
from storage.records.audit import add_audit_entry
from storage.records.conversations import get_conversation
from storage.records.invites import looks_like_code
from storage.records.linking import looks_like_link_code, note_channel
from storage.records.people import Person, get_or_create_identity, read_person, touch_identity

log = logging.getLogger(__name__)

MAX_TEXT = 4000
FORM_PRESSES = (buttons.FORM.prefix + ":", buttons.DRAFT.prefix + ":")
T = TypeVar("T")
# Run last in an update's unit of work with its answer (the inbox marks its row handled and
# keeps the answer until it was sent), so that both commit with the update or not at all.
Within = Callable[[AsyncSession, Result], Awaitable[None]]


class Core:
    def __init__(self, db: Database, config: CoreConfig, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.texts = Texts(config.language)
        # Told of each update handled and each job (bot/ops/metrics.py counts them).
        self.observer = Observer()
        # Every feature's commands, buttons and forms, before the first update.
        registry()
        # At most this many updates compute their step at once; the others wait their turn here
        # (in the order they came). The step is Python work between short statements: more of
        # them interleaved does not finish more a second, it makes each one take longer.
        self.working = asyncio.Semaphore(config.concurrent_steps)

    async def handle(self, inbound: Inbound, *, within: Within | None = None) -> Result:
        """`within` runs last in the update's unit of work, given the answer, so that what it
        writes (the inbox row marked handled, the answer kept) commits or rolls back together
        with the update."""
        began, steps = time.perf_counter(), []
        try:
            async with self.working:
                result = await self._handle_or_explain(inbound, within)
            steps = result.form_steps
            return result
        finally:  # an update that failed took its time too
            self.observer.update_handled(inbound.channel, time.perf_counter() - began, steps)

    async def _handle_or_explain(self, inbound: Inbound, within: Within | None) -> Result:
        try:
            return await self._handle(inbound, within)
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

    async def _handle(self, inbound: Inbound, within: Within | None) -> Result:
        now = self.clock()
        async with self.db.session() as session:
            person = await _person_of(session, inbound, now)
            identity = person.identity
            # Where what the bot sends on its own goes, for someone on two channels.
            await note_channel(
                session, member_id=identity.member_id, channel=inbound.channel, now=now
            )
            ctx = Ctx(session, inbound, identity, now, self.config, self.texts)
            ctx.knows(person)
            await self._bootstrap_admin(ctx)
            if not inbound.numbered or await numbered.read_reply(ctx):
                await route(ctx)
            # Not when the person's identity went in this update (they erased their data).
            if inbound.numbered and not inspect(identity).detached:
                await numbered.remember(ctx)
            if within is not None:
                await within(session, ctx.result)
        for work in ctx.result.after_commit:
            try:
                await work()
            except Exception:
                log.exception("work after the commit of an update of %s failed", inbound.channel)
        return ctx.result

    async def too_fast(self, inbound: Inbound, *, within: Within | None = None) -> Result:
        """The person sends faster than the flood rule lets through (bot/updates/flood.py):
        they are told, and the question of a form they have open is asked again at once, since
        what they send meanwhile is not read (their next message answers that question)."""
        now = self.clock()
        async with self.db.session() as session:
            identity = await _identity_of(session, inbound, now)
            ctx = Ctx(session, inbound, identity, now, self.config, self.texts)
            ctx.say("flood-too-fast")
            conv = await get_conversation(session, member_id=identity.member_id)
            if conv is not None and not conv.paused and conv.expires_at > now:
                await conversation.render(ctx, conv)
                if inbound.numbered:
                    await numbered.remember(ctx)
            if within is not None:
                await within(session, ctx.result)
            return ctx.result

    async def track_message(self, track: str, channel: str, chat_id: str, message_id: str) -> None:
        """A channel sent a message the core follows (`Outbound.track`): where it went."""
        from handlers.admin import broadcast  # the core's one feature call; features import core

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
    inbound = ctx.inbound
    conv = await ctx.conversation()
    if await consent.needed(ctx) and not _before_consent(inbound, conv):
        consent.show_notice(ctx, again=True)
        return
    if conv is not None and not conv.paused and conv.expires_at <= ctx.now:
        conv.paused = True
        await ctx.session.flush()
        if inbound.choice is not None and inbound.choice.startswith(FORM_PRESSES):
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
            await conversation.on_attachment(
                ctx,
                conv,
                inbound.attachment,
                # A channel without file ids (Zalo) keeps the photo by its media key alone.
                inbound.file_id or inbound.media_key,
                inbound.media_key,
            )
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
        await on_command(ctx, conv, text)
        return
    if looks_like_link_code(text) and (conv is None or not await _has_joined(ctx)):
        # A /lienket code sent from the other channel, as it was given; also from inside the
        # join form a newcomer may have begun (no name or phone is 6 digits), not from a
        # member's form, where 6 digits may be an answer.
        await as_command(ctx, "/lienket " + text)
        return
    if conv is None:
        member = await _has_joined(ctx)
        if not member and looks_like_code(text):
            # Zalo has no deep links: a stranger's typed invite code joins as `/start CODE` does.
            # Members are left out: "chap nhan", a label typed bare, has a code's shape.
            await as_command(ctx, "/start " + text)
            return
        ctx.say("idle-member" if member else "idle-guest")
        return
    if conv.paused:
        paused_prompt(ctx, conv)
        return
    if not await typed.press(ctx, conv, text):
        await conversation.on_text(ctx, conv, text)


def _before_consent(inbound: Inbound, conv: Conversation | None) -> bool:
    """The notice's own buttons, the commands declared usable before agreeing to it, and the
    steps of their forms (withdrawing consent and erasing one's data is one)."""
    in_form = conv is not None and conv.form in FLOWS and FLOWS[conv.form].before_consent
    if inbound.choice is not None:
        if in_form and inbound.choice.startswith(FORM_PRESSES):
            return True
        button = registry().buttons.get(buttons.prefix_of(inbound.choice))
        return button is not None and button.before_consent
    text = (inbound.text or "").strip()
    if inbound.attachment:
        return False
    if not text.startswith("/"):
        return in_form  # an answer to that form (a typed option's number)
    command = registry().commands.get(text[1:].partition(" ")[0].split("@")[0].lower())
    # The form keys (/huy, /quaylai...) are that form's way back and way out.
    return command is not None and (command.before_consent or (in_form and command.last))


async def _has_joined(ctx: Ctx) -> bool:
    return await ctx.is_member() or await ctx.is_admin()


async def on_command(ctx: Ctx, conv: Conversation | None, text: str) -> None:
    name, _, args = text[1:].partition(" ")
    command: Command[Any] | None = registry().commands.get(name.split("@")[0].lower())
    if command is None:
        ctx.say("unknown-command", command=name[:32])
        return
    if not await holds(ctx, command.role):
        ctx.say(command.role.refusal)
    else:
        target = await command.read(ctx, args.strip())
        if target is not None and not await _open_first(
            ctx, conv, command.opens, command.same, target
        ):
            await command.run(ctx, conv, target)
    if command.shows:
        still_open(ctx, conv)


async def on_choice(ctx: Ctx, conv: Conversation | None, data: str) -> None:
    """Button data is untrusted: only the declared shapes are acted on."""
    button = registry().buttons.get(buttons.prefix_of(data))
    value = button.kind.decode(data) if button is not None else None
    if button is None or value is None:
        ctx.result.notice = ctx.t("button-stale")
        return
    if not await holds(ctx, button.role):
        ctx.say(button.role.refusal)
        return
    if button.command is not None:
        await as_command(ctx, button.command(value))
        return
    opens = button.opens if button.when is None or button.when(value) else None
    if not await _open_first(ctx, conv, opens, button.same, value):
        assert button.press is not None
        await button.press(ctx, conv, value)


async def _open_first(
    ctx: Ctx,
    conv: Conversation | None,
    opens: str | None,
    same: Callable[[Conversation, T], bool] | None,
    target: T,
) -> bool:
    """True when a form left open was dealt with instead (see `drafts.busy`)."""
    if opens is None or conv is None:
        return False
    return await busy(ctx, conv, opens, same=same is None or same(conv, target))


async def as_command(ctx: Ctx, text: str) -> None:
    """A button that starts a form goes the way of its command, so an open form is dealt with
    first, as when the command is typed."""
    ctx.inbound = dataclasses.replace(ctx.inbound, text=text, choice=None)
    await route(ctx)


async def _person_of(session: AsyncSession, inbound: Inbound, now: datetime) -> Person:
    """Who sent it and what their step reads first, in one statement; made at their first
    message."""
    person = await read_person(
        session,
        channel=inbound.channel,
        external_id=inbound.external_id,
        notice_version=consent.NOTICE_VERSION,
    )
    if person is not None:
        touch_identity(person.identity, chat_id=inbound.chat_id)
        return person
    return Person(await _identity_of(session, inbound, now), None)


async def _identity_of(session: AsyncSession, inbound: Inbound, now: datetime) -> Identity:
    """Who sent it: their identity on the channel, made at their first message."""
    return await get_or_create_identity(
        session,
        channel=inbound.channel,
        external_id=inbound.external_id,
        chat_id=inbound.chat_id,
        display_name=inbound.display_name,
        now=now,
    )
