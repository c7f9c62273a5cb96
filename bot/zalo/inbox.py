"""Zalo's updates through the durable inbox (storage/inbox.py): the webhook route and the poller
record each update under its message id and only then acknowledge it; the inbox's worker
(bot/inbox.py) handles the recorded updates in the order they came, marking each handled in the
same unit of work as the handler's writes. See docs/channels.md, "The inbox", for what a crash
can and cannot do."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot import http
from bot.channels import ZALO
from bot.inbox import MAX_ATTEMPTS, Answering, Inbox, InboxWorker, Payload, Within
from bot.replicas import shared
from bot.replicas.claims import PersonClaims
from bot.updates.order import PersonOrder
from bot.zalo.api import Update, parse_update
from handlers.core.router import Core
from handlers.core.types import Inbound, Outbound, Result

__all__ = ["MAX_ATTEMPTS", "WEBHOOK_PATH", "Within", "ZaloInbox", "worker"]

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/zalo/webhook"
SECRET_HEADER = "X-Bot-Api-Secret-Token"


class Handler(Protocol):
    async def handle(self, update: Update, *, within: Within | None = None) -> None: ...

    async def say(self, chat_id: str, message: Outbound) -> None: ...

    async def reply(self, chat_id: str, result: Result) -> None: ...


def unwrapped(body: Any) -> Any:
    """The update itself, from a bare or a wrapped (`{"ok": true, "result": …}`) body."""
    if isinstance(body, dict) and "result" in body and "event_name" not in body:
        return body["result"]
    return body


@dataclass
class ZaloInbox:
    """Zalo's inbox in one process: recording wakes the worker."""

    core: Core
    box: Inbox = field(init=False)

    def __post_init__(self) -> None:
        self.box = Inbox(self.core, ZALO)

    @property
    def wake(self) -> asyncio.Event:
        return self.box.wake

    async def record(self, body: Any) -> bool | None:
        """Record one delivered body: True when new, False for a redelivery, None when it is
        no update the bot reads (nothing to record, nothing to deliver again)."""
        update = parse_update(body)
        if update is None:
            return None
        payload = unwrapped(body)
        # Zalo always sends a message id; without one the content itself identifies the update.
        message_id = (
            update.message_id
            or "sha256:"
            + hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:64]
        )
        return await self.box.record(message_id=message_id, person=update.user_id, payload=payload)

    def route(self, secret: str) -> Route:
        """Zalo's POSTs: the secret header (constant time), then the size, then the body; the
        update is recorded before the 200. A database that cannot take it answers 503, and Zalo
        delivers it again."""

        async def zalo_webhook(request: Request) -> Response:
            if SECRET_HEADER.lower() not in request.headers:
                return http.refusal(401)
            if not http.secret_matches(request, SECRET_HEADER, secret):
                return http.refusal(403)
            try:
                data = json.loads(await http.read_body(request))
            except http.BodyTooLarge:
                return http.refusal(413)
            except ValueError:
                return Response(status_code=400)
            try:
                await self.record(data)
            except Exception:
                log.exception("a Zalo update could not be recorded; Zalo will deliver it again")
                return Response(status_code=503)
            return Response(status_code=200)

        return Route(WEBHOOK_PATH, zalo_webhook, methods=["POST"])


def worker(
    core: Core,
    handler: Handler,
    *,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    order: PersonOrder | None = None,
    claims: PersonClaims | None = None,
) -> InboxWorker:
    """The inbox's worker for Zalo: each recorded update goes to `handler` (the runner). On a
    database other processes share, it claims each person it handles (`claims`)."""
    if claims is None and shared(core.db):
        claims = PersonClaims(core.db, ZALO, core.clock)

    async def handle(payload: Payload, within: Within) -> None:
        update = parse_update(payload)
        if update is not None:  # recorded only when it parsed: nothing to do otherwise
            await handler.handle(update, within=within)

    async def gave_up(payload: Payload) -> None:
        update = parse_update(payload)
        if update is not None and update.private:
            await handler.say(update.chat_id, Outbound(core.texts("error-internal")))

    async def too_fast(payload: Payload, within: Within) -> None:
        update = parse_update(payload)
        if update is None or not update.private:
            return
        inbound = Inbound(
            channel=ZALO,
            external_id=update.user_id,
            chat_id=update.chat_id,
            display_name=update.display_name,
            numbered=True,
        )
        await handler.reply(update.chat_id, await core.too_fast(inbound, within=within))

    def chat_of(payload: Payload) -> str | None:
        update = parse_update(payload)
        return update.chat_id if update is not None else None

    async def answer_again(chat_id: str, messages: list[Outbound]) -> None:
        for message in messages:
            await handler.say(chat_id, message)

    return InboxWorker(
        core,
        ZALO,
        handle,
        gave_up,
        sleep=sleep,
        order=order or PersonOrder(),
        too_fast=too_fast,
        claims=claims,
        answering=Answering(chat_of, answer_again),
    )
