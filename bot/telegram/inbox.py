"""Telegram's webhook updates through the durable inbox (storage/inbox.py, bot/inbox.py): the
webhook route records each update under its update_id before the 200, and the inbox's worker
gives the recorded updates to the Application (`process_update`): each person's one at a time in
the inbox's order, different people's side by side, in the order kept by the Application's update
processor (PersonProcessor), so updates given to its update queue keep the same order and bound.
The adapter reaches the core with the worker's `within` (a context variable of the update being
handled), so "handled" commits in the handler's own unit of work.
See docs/channels.md, "The inbox", and docs/concurrency.md."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.error import TelegramError
from telegram.ext import Application, BaseUpdateProcessor

from bot.channels import TELEGRAM
from bot.inbox import WINDOW, Answering, GivenUp, Inbox, InboxWorker, Payload, Within
from bot.replicas import shared
from bot.replicas.claims import PersonClaims
from bot.telegram.delivery import core_of_app, output_of
from bot.updates.order import PersonOrder
from handlers.core.types import Inbound, Outbound

log = logging.getLogger(__name__)


@dataclass
class _Attempt:
    within: Within
    error: BaseException | None = None


# The inbox row being handled in this task: set by the worker around `process_update`.
_ATTEMPT: ContextVar[_Attempt | None] = ContextVar("telegram_inbox_attempt", default=None)


def within() -> Within | None:
    """What the adapter gives `Core.handle`: the mark of the inbox row being handled, if any."""
    attempt = _ATTEMPT.get()
    return attempt.within if attempt is not None else None


def note_error(error: BaseException | None) -> None:
    """The error handler saw the update being handled fail (and told the person)."""
    attempt = _ATTEMPT.get()
    if attempt is not None and error is not None:
        attempt.error = error


def person_of(update: Update) -> str:
    """Whose update it is: the sender, else the chat (every update the bot asks for has one)."""
    if update.effective_user is not None:
        return str(update.effective_user.id)
    if update.effective_chat is not None:
        return str(update.effective_chat.id)
    return ""


class PersonProcessor(BaseUpdateProcessor):
    """The Application's update processor: updates given to its update queue run in the same
    order as the inbox's (bot/updates/order.py), one person's one at a time, different people's
    side by side, with the same bound. python-telegram-bot's own semaphore is taken before
    `do_process_update`, also by an update that only waits for its person's earlier one: it is
    set to the inbox's window, so waiting never takes a running update's place."""

    def __init__(self, order: PersonOrder) -> None:
        super().__init__(max_concurrent_updates=WINDOW)
        self.order = order

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        person = person_of(update) if isinstance(update, Update) else ""

        async def job() -> None:
            await coroutine

        await self.order.run(person, job)

    async def initialize(self) -> None:
        return None

    async def shutdown(self) -> None:
        await self.order.join()


def counts(payload: Payload) -> bool:
    """What a person sends counts towards a flood; the bot's membership in a chat does not."""
    return any(key in payload for key in ("message", "edited_message", "callback_query"))


def album_of(payload: Payload) -> str | None:
    """The photos (or files) sent as one album share a media_group_id: they count as one."""
    message = payload.get("message")
    group = message.get("media_group_id") if isinstance(message, dict) else None
    return str(group) if group is not None else None


def order_of(application: Application) -> PersonOrder:
    """The Application's PersonOrder (a new one for an Application built without it)."""
    processor = application.update_processor
    if isinstance(processor, PersonProcessor):
        return processor.order
    return PersonOrder()


@dataclass
class TelegramInbox:
    """Telegram's inbox in one process, for the Application that handles its updates."""

    application: Application
    box: Inbox = field(init=False)

    def __post_init__(self) -> None:
        self.box = Inbox(core_of_app(self.application), TELEGRAM)

    async def record(self, update: Update, data: dict[str, Any]) -> bool:
        """True when new, False for a redelivery; raises when the database cannot take it."""
        return await self.box.record(
            message_id=str(update.update_id), person=person_of(update), payload=data
        )

    def worker(
        self,
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        claims: PersonClaims | None = None,
    ) -> InboxWorker:
        """The worker; on a database other processes share, it claims each person it handles
        (`claims`, made for this process when not given)."""
        core = self.box.core
        if claims is None and shared(core.db):
            claims = PersonClaims(core.db, TELEGRAM, core.clock)
        return InboxWorker(
            self.box.core,
            TELEGRAM,
            self.handle,
            self.gave_up,
            sleep=sleep,
            order=order_of(self.application),
            counts=counts,
            album_of=album_of,
            too_fast=self.too_fast,
            claims=claims,
            answering=Answering(self.chat_of, self.answer_again),
        )

    async def work(self, stop: asyncio.Event) -> None:
        """Handle the inbox (what a restart left first) until `stop` is set."""
        await self.worker().run(self.box.wake, stop)

    async def handle(self, payload: Payload, mark: Within) -> None:
        update = Update.de_json(payload, self.application.bot)
        attempt = _Attempt(mark)
        token = _ATTEMPT.set(attempt)
        try:
            # Errors of the handlers go to the Application's error handler (bot/telegram/adapter
            # on_error), which logs them and tells the person; it notes them here.
            await self.application.process_update(update)
        finally:
            _ATTEMPT.reset(token)
        if attempt.error is not None:
            # The person was told already: trying again would tell them again, and repeat what
            # the handler had sent before it failed. Kept as failed, for an admin to read.
            raise GivenUp(f"{type(attempt.error).__name__}: {attempt.error}")

    async def too_fast(self, payload: Payload, mark: Within) -> None:
        """The first update of a flood (bot/updates/flood.py): the person is told, and the
        question of an open form asked again, in a private chat."""
        update = Update.de_json(payload, self.application.bot)
        chat, user = update.effective_chat, update.effective_user
        if chat is None or user is None or chat.type != "private":
            return
        inbound = Inbound(
            channel=TELEGRAM,
            external_id=str(user.id),
            chat_id=str(chat.id),
            display_name=user.full_name,
        )
        result = await self.box.core.too_fast(inbound, within=mark)
        output = output_of(self.application)
        for message in result.messages:
            await output.deliver(chat.id, message)

    def chat_of(self, payload: Payload) -> str | None:
        """The chat the core's answer to this update goes to (the adapter's, for a message and a
        button press alike)."""
        update = Update.de_json(payload, self.application.bot)
        if update.effective_chat is not None:
            return str(update.effective_chat.id)
        return str(update.effective_user.id) if update.effective_user is not None else None

    async def answer_again(self, chat_id: str, messages: list[Outbound]) -> None:
        """An answer a crash kept from going out, sent as the adapter sends one."""
        output = output_of(self.application)
        for message in messages:
            await output.deliver(chat_id, message)

    async def gave_up(self, payload: Payload) -> None:
        """An update that stopped the process during every attempt: the person is told."""
        chat = Update.de_json(payload, self.application.bot).effective_chat
        if chat is None or chat.type != "private":
            return
        try:
            await self.application.bot.send_message(chat.id, self.box.core.texts("error-internal"))
        except TelegramError:
            log.exception("could not tell the person their update was given up")
