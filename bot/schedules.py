"""The scheduled sweeps, for every channel: reminders and nudges every few minutes, digests
every minute (the jobs that call them are the channel's). Each sweep reads who is due in one
short read. Reminders and nudges are then queued for up to 500 people in one short unit of work
(a few statements however many); when one fails, each of its people is tried in a unit of their
own, so that one person's failure is logged and tried again at the next sweep (nothing of it was
recorded) while the others go. Digests are one person at a time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

from bot.replicas.leader import TICK_SECONDS, Leader
from handlers.coordinator import digest
from handlers.core.router import Core
from handlers.member import reminders
from handlers.shared.charts import drawn
from storage import retention, schedules
from storage.media import deleting
from storage.schedules import DigestDue, MemberDue

log = logging.getLogger(__name__)
DIGEST_SECONDS = 60
RETENTION_SECONDS = 3600
# People whose reminders and nudges are queued in one unit of work.
REMINDER_BATCH = 500


async def run_sweeps(
    core: Core,
    stop: asyncio.Event,
    *,
    interval: float,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    leader: Leader | None = None,
) -> None:
    """The sweeps where no Telegram JobQueue runs them (Zalo alone): reminders every `interval`
    seconds, digests every minute, on the core's clock, until `stop` is set, while this process
    is the `leader` (bot/replicas/leader.py). A sweep that fails is logged and runs again at
    its next turn."""
    leader = leader or Leader(core.db, core.clock)
    next_reminders = next_retention = next_digests = core.clock()
    while not stop.is_set():
        if not await leader.tick():
            await _pause(sleep, TICK_SECONDS, stop)
            continue
        if core.clock() < next_digests:
            await _pause(sleep, min(TICK_SECONDS, DIGEST_SECONDS), stop)
            continue
        next_digests = core.clock() + timedelta(seconds=DIGEST_SECONDS)
        if core.clock() >= next_retention:
            next_retention = core.clock() + timedelta(seconds=RETENTION_SECONDS)
            try:
                await sweep_retention(core)
            except Exception:
                log.exception("the retention sweep failed; it runs again in an hour")
        if core.clock() >= next_reminders:
            next_reminders = core.clock() + timedelta(seconds=interval)
            try:
                await sweep_reminders(core)
            except Exception:
                log.exception("the reminder sweep failed; it runs again at its next turn")
        try:
            await sweep_digests(core)
        except Exception:
            log.exception("the digest sweep failed; it runs again in a minute")
    await leader.resign()


async def _pause(
    sleep: Callable[[float], Awaitable[Any]], seconds: float, stop: asyncio.Event
) -> None:
    pausing = asyncio.ensure_future(sleep(seconds))
    stopping = asyncio.ensure_future(stop.wait())
    await asyncio.wait([pausing, stopping], return_when=asyncio.FIRST_COMPLETED)
    for task in (pausing, stopping):
        task.cancel()
    await asyncio.gather(pausing, stopping, return_exceptions=True)


async def sweep_retention(core: Core) -> retention.Swept:
    """Let go of what the retention period is over for (storage/retention.py), in one unit of
    work: it runs every hour and finds nothing to do most of the time."""
    before = core.clock() - timedelta(days=core.config.retention_days)
    async with core.db.session() as session:
        swept = await retention.sweep(session, before=before)
    store = core.config.channels.media_store()
    if store is not None and swept.media_keys:
        # After the commit: the photos of the forms dropped, which nothing refers to any more.
        await deleting(store, list(swept.media_keys))()
    if swept.people or swept.payloads or swept.drafts:
        # Counts only: never a name, a phone or a message's text.
        log.info(
            "retention: %d people forgotten, %d messages emptied, %d drafts dropped",
            swept.people,
            swept.payloads,
            swept.drafts,
        )
    return swept


async def sweep_reminders(core: Core) -> tuple[int, int]:
    """Queue the reminders and nudges due now. Returns (reminders, nudges) queued."""
    now, config = core.clock(), core.config
    async with core.db.read() as session:
        due = await schedules.members_due(
            session,
            now=now,
            tz=config.timezone,
            quiet=config.quiet_hours,
            default_hour=config.reminder_hour,
            before_days=config.remind_before_days,
            overdue_days=config.remind_overdue_days,
            forms=reminders.NUDGED_FORMS,
            idle_since=now - config.nudge_after,
        )
    queued = nudged = 0
    for start in range(0, len(due), REMINDER_BATCH):
        counts = await _queue_reminders(core, due[start : start + REMINDER_BATCH], now)
        queued += counts[0]
        nudged += counts[1]
    if queued or nudged:
        log.info("queued %d reminders and %d nudges", queued, nudged)
    return queued, nudged


async def _queue_reminders(core: Core, due: list[MemberDue], now: datetime) -> tuple[int, int]:
    """Many people's reminders in one short unit of work; when it fails, each person's in one of
    their own, so that one person's failure holds up nobody else."""
    try:
        async with core.db.session() as session:
            return await reminders.queue_for(session, core.config, core.texts, due, now)
    except Exception:
        if len(due) == 1:
            log.exception(
                "reminders for member %d failed; tried again at the next sweep", due[0].member_id
            )
            return 0, 0
        log.warning("reminders for %d members failed together; each is tried alone", len(due))
    queued = nudged = 0
    for member in due:
        counts = await _queue_reminders(core, [member], now)
        queued += counts[0]
        nudged += counts[1]
    return queued, nudged


async def sweep_digests(core: Core) -> int:
    """Queue the digests whose slot has come. Returns how many were queued."""
    now = core.clock()
    async with core.db.read() as session:
        due = await schedules.digests_due(session, now=now, tz=core.config.timezone)
    queued = 0
    for item in due:
        try:
            queued += await _digest(core, item, now)
        except Exception:
            log.exception(
                "digest for member %d failed; tried again at the next sweep", item.member_id
            )
    return queued


async def digests_now(core: Core, member_ids: list[int]) -> int:
    """Queue a digest now for each person (`dvk digest --now`), their schedule unchanged.
    Returns how many were queued; the running bot's outbox sends them."""
    now = core.clock()
    queued = 0
    for member_id in member_ids:
        async with core.db.read() as session:
            due = await schedules.digest_now(session, member_id=member_id, now=now)
        if due is not None:
            queued += await _digest(core, due, now)
    return queued


async def _digest(core: Core, due: DigestDue, now: datetime) -> bool:
    """Read one person's figures, draw their chart with no transaction open and off the event
    loop, then record the slot and queue the digest in one short write."""
    async with core.db.read() as session:
        composed = await digest.compose(session, core.config, core.texts, due, now)
    if composed is None:
        return False
    payload, rows = composed
    png = await drawn(digest.chart, core.texts, rows)
    async with core.db.session() as session:
        return await digest.queue(session, core.config, due, payload, png, now)
