"""The application's repeating jobs: the reminder and digest sweeps and the admins' broadcast
progress. Each decides from the database what is due; what it queues goes out through the
outbox."""

from __future__ import annotations

import logging

from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, ContextTypes

from bot import schedules
from bot.replicas.leader import Leader
from bot.telegram.adapter import CHANNEL
from bot.telegram.delivery import core_of_app
from handlers.admin import broadcast

log = logging.getLogger(__name__)
# How often the admins' broadcast progress messages are brought up to date.
BROADCAST_PROGRESS_SECONDS = 5


def leader_of(app: Application) -> Leader:
    """Whether this process runs the sweeps (bot/replicas/leader.py): made with the app."""
    leader = app.bot_data.get("leader")
    if leader is None:
        leader = app.bot_data["leader"] = Leader(core_of_app(app).db, core_of_app(app).clock)
    return leader


async def leader_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await leader_of(context.application).tick()


async def sweep_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    if leader_of(context.application).leading():
        await run_sweep(context.application)


async def digest_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    if leader_of(context.application).leading():
        await run_digests(context.application)


async def run_digests(app: Application) -> int:
    """Queue the digests whose scheduled slot has come (decided from the database)."""
    return await schedules.sweep_digests(core_of_app(app))


async def run_sweep(app: Application) -> tuple[int, int]:
    """Queue the reminders and nudges due now (decided from the database, not from jobs)."""
    return await schedules.sweep_reminders(core_of_app(app))


async def retention_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    if leader_of(context.application).leading():
        await schedules.sweep_retention(core_of_app(context.application))


async def broadcast_progress_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    if leader_of(context.application).leading():
        await run_broadcast_progress(context.application)


async def run_broadcast_progress(app: Application) -> int:
    """Edit the admins' broadcast progress messages whose count changed. A failed edit is
    logged and never stops the job; a final count that cannot be edited in is sent anew."""
    core = core_of_app(app)
    edits = await broadcast.progress_updates(core.db, core.texts, core.clock(), channel=CHANNEL)
    for edit in edits:
        try:
            await app.bot.edit_message_text(
                chat_id=edit.chat_id, message_id=int(edit.message_id), text=edit.text
            )
        except BadRequest as error:
            if "not modified" in str(error).lower():
                continue
            log.warning("could not edit the progress of a broadcast: %s", error)
            if edit.final:
                await _send_quietly(app, edit.chat_id, edit.text)
        except TelegramError as error:
            log.warning("could not edit the progress of a broadcast: %s", error)
    return len(edits)


async def _send_quietly(app: Application, chat_id: str, text: str) -> None:
    try:
        await app.bot.send_message(chat_id=chat_id, text=text)
    except TelegramError as error:
        log.warning("could not send the final count of a broadcast: %s", error)
