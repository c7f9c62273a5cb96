"""Telegram's polling mode through the durable inbox (bot/telegram/inbox.py): the project's own
long poll instead of python-telegram-bot's Updater, which confirms what it fetched before it is
handled. Each fetched update is recorded under its update_id first; only then does the next
`getUpdates` ask from the last update_id + 1, which is what confirms them to Telegram. What a
crash leaves unconfirmed is fetched again at the restart, and its recording is a no-op. The
inbox's worker handles the recorded updates as in webhook mode. See docs/channels.md,
"The inbox"."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from telegram import Update
from telegram.error import InvalidToken, NetworkError, RetryAfter, TelegramError

from bot.inbox import backoff, first, unless_stopped
from bot.telegram.adapter import ALLOWED_UPDATES
from bot.telegram.inbox import TelegramInbox

log = logging.getLogger(__name__)
# How long one getUpdates waits for an update (what the Updater asked for).
POLL_SECONDS = 10


@dataclass
class TelegramPoller:
    inbox: TelegramInbox
    poll_seconds: int = POLL_SECONDS
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
    # The next update_id to ask for; None at start: Telegram gives what it has not had confirmed.
    offset: int | None = None

    async def run(self, stop: asyncio.Event) -> None:
        """Poll until `stop` is set (which ends a long poll at once). A webhook left set is
        deleted first. Errors back off (1 s, doubling, at most a minute); a rejected token
        raises."""
        bot = self.inbox.application.bot
        webhook_deleted = False
        failures = 0
        while not stop.is_set():
            try:
                if not webhook_deleted:
                    # getUpdates is refused while a webhook is set.
                    await bot.delete_webhook()
                    webhook_deleted = True
                updates = await self._poll(stop)
                if updates:
                    await self._record(updates)
            except InvalidToken:
                raise
            except Exception as error:
                failures += 1
                wait = backoff(failures)
                if isinstance(error, RetryAfter):
                    wait = max(wait, _seconds(error.retry_after))
                if isinstance(error, NetworkError):
                    log.warning("Telegram getUpdates failed (%s); again in %g s", error, wait)
                elif isinstance(error, TelegramError):
                    log.error("Telegram getUpdates failed (%s); again in %g s", error, wait)
                else:
                    # The database could not take an update: Telegram keeps it until the
                    # offset confirms it, so it is fetched again.
                    log.exception(
                        "a polled Telegram update could not be recorded; again in %g s", wait
                    )
                await first(self.sleep(wait), stop.wait())
                continue
            failures = 0

    async def _poll(self, stop: asyncio.Event) -> Sequence[Update]:
        """One long poll, cancelled when `stop` is set (nothing is lost: what it would have
        fetched is not confirmed)."""
        updates = await unless_stopped(
            self.inbox.application.bot.get_updates(
                offset=self.offset, timeout=self.poll_seconds, allowed_updates=ALLOWED_UPDATES
            ),
            stop,
        )
        return updates or ()

    async def _record(self, updates: Sequence[Update]) -> None:
        """Each update recorded in the order Telegram gave them, and only then confirmed (by the
        next poll's offset). One that cannot be recorded raises: it and those after it are
        fetched again."""
        for update in sorted(updates, key=lambda update: update.update_id):
            await self.inbox.record(update, update.to_dict())
            self.offset = update.update_id + 1


def _seconds(period: int | timedelta) -> float:
    return period.total_seconds() if isinstance(period, timedelta) else float(period)
