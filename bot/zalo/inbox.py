"""Zalo's updates through the durable inbox (storage/inbox.py): the webhook route and the poller
record each update under its message id and only then acknowledge it; one worker handles the
recorded updates in the order they came, marking each handled in the same unit of work as the
handler's writes. See docs/zalo.md, "The inbox", for what a crash can and cannot do."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bot import http
from bot.channels import ZALO
from bot.zalo.api import Update, parse_update
from handlers.core.router import Core
from handlers.core.types import Outbound
from storage import inbox

log = logging.getLogger(__name__)
WEBHOOK_PATH = "/zalo/webhook"
SECRET_HEADER = "X-Bot-Api-Secret-Token"
# Tries of one update (a crash of the process during one counts too) before it is given up.
MAX_ATTEMPTS = 3
CLEANUP_EVERY = timedelta(hours=1)
RETRY_READ_SECONDS = 5.0

Within = Callable[[AsyncSession], Awaitable[None]]


class Handler(Protocol):
    async def handle(self, update: Update, *, within: Within | None = None) -> None: ...

    async def say(self, chat_id: str, message: Outbound) -> None: ...


def unwrapped(body: Any) -> Any:
    """The update itself, from a bare or a wrapped (`{"ok": true, "result": …}`) body."""
    if isinstance(body, dict) and "result" in body and "event_name" not in body:
        return body["result"]
    return body


async def record_update(core: Core, body: Any) -> bool | None:
    """Record one delivered body: True when new, False for a redelivery, None when it is no
    update the bot reads (nothing to record, nothing to deliver again)."""
    update = parse_update(body)
    if update is None:
        return None
    payload = unwrapped(body)
    # Zalo always sends a message id; without one the content itself identifies the update.
    message_id = (
        update.message_id
        or "sha256:" + hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()[:64]
    )
    async with core.db.session() as session:
        return await inbox.record(
            session,
            channel=ZALO,
            message_id=message_id[:128],
            person=update.user_id[:64],
            payload=payload,
            now=core.clock(),
        )


@dataclass
class ZaloInbox:
    """The inbox of one process: recording wakes the worker."""

    core: Core
    wake: asyncio.Event = field(default_factory=asyncio.Event)

    async def record(self, body: Any) -> bool | None:
        recorded = await record_update(self.core, body)
        if recorded:
            self.wake.set()
        return recorded

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


@dataclass
class InboxWorker:
    core: Core
    handler: Handler
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
    last_cleanup: datetime | None = None

    async def run(self, wake: asyncio.Event, stop: asyncio.Event) -> None:
        """Handle what is pending (what a restart left too), then each time something is
        recorded, until `stop` is set. The update being handled is finished first."""
        while not stop.is_set():
            wake.clear()
            try:
                await self.drain(stop)
                await self.cleanup()
            except Exception:
                # The database itself failed: nothing is lost, the rows wait for the next try.
                log.exception("the Zalo inbox could not be read; again in %g s", RETRY_READ_SECONDS)
                await _first(self.sleep(RETRY_READ_SECONDS), stop.wait())
                continue
            await _first(wake.wait(), stop.wait())

    async def drain(self, stop: asyncio.Event | None = None) -> int:
        """Handle the pending updates, oldest first, until none is left or `stop` is set;
        returns how many were handled."""
        handled = 0
        while stop is None or not stop.is_set():
            async with self.core.db.session() as session:
                row = await inbox.next_pending(session, channel=ZALO)
                if row is None:
                    return handled
                row_id, payload = row.id, row.payload
                attempts = await inbox.begin_attempt(session, update_id=row_id)
            update = parse_update(payload)
            if update is None:
                await self._settle(row_id)
                continue
            if attempts > MAX_ATTEMPTS:
                # It was begun that often without an outcome: it stopped the process each time.
                await self._give_up(row_id, update, "stopped the process during every attempt")
                continue
            await self._handle(row_id, update, attempts)
            handled += 1
        return handled

    async def _handle(self, row_id: int, update: Update, attempts: int) -> None:
        async def within(session: AsyncSession) -> None:
            # In the handler's own unit of work: its writes and "handled" commit together.
            await inbox.mark_handled(session, update_id=row_id, now=self.core.clock())

        try:
            await self.handler.handle(update, within=within)
        except Exception as error:
            log.exception("error while handling a Zalo update (attempt %d)", attempts)
            if attempts >= MAX_ATTEMPTS:
                await self._give_up(row_id, update, f"{type(error).__name__}: {error}")
            else:
                async with self.core.db.session() as session:
                    await inbox.mark_failed(
                        session,
                        update_id=row_id,
                        error=f"{type(error).__name__}: {error}",
                        now=self.core.clock(),
                        final=False,
                    )
            return
        # A reply that never reached the core (a sticker, a group) has no unit of work: settled
        # here, after the reply.
        await self._settle(row_id)

    async def _settle(self, row_id: int) -> None:
        async with self.core.db.session() as session:
            if await inbox.status_of(session, update_id=row_id) == inbox.PENDING:
                await inbox.mark_handled(session, update_id=row_id, now=self.core.clock())

    async def _give_up(self, row_id: int, update: Update, error: str) -> None:
        async with self.core.db.session() as session:
            await inbox.mark_failed(
                session, update_id=row_id, error=error, now=self.core.clock(), final=True
            )
        if update.private:
            await self.handler.say(update.chat_id, Outbound(self.core.texts("error-internal")))

    async def cleanup(self) -> None:
        now = self.core.clock()
        if self.last_cleanup is not None and now - self.last_cleanup < CLEANUP_EVERY:
            return
        async with self.core.db.session() as session:
            removed = await inbox.forget_handled(session, now=now)
        self.last_cleanup = now
        if removed:
            log.info("removed %d Zalo updates handled more than a week ago", removed)


async def _first(*waits: Awaitable[Any]) -> None:
    """Wait until the first of `waits` is done; the others are cancelled."""
    tasks = [asyncio.ensure_future(wait) for wait in waits]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
