"""Background jobs (an Excel export, handlers/core/jobs.py) beside the updates: the first message
says the job has begun and is edited with its progress; what the job sends goes through the
channel's delivery."""

from __future__ import annotations

import asyncio
import logging

from telegram.error import TelegramError
from telegram.ext import Application

from bot.telegram.delivery import core_of_app, output_of
from handlers.core.jobs import Job, Throttle, run_job
from handlers.core.types import Outbound

log = logging.getLogger(__name__)


def running_jobs(app: Application) -> dict[tuple[str, str, int | None], asyncio.Task[None]]:
    """(chat, job key, its row) -> its task; tests await them. One job of a kind per person
    is the core's rule (`handlers.core.jobs.start`, from the jobs table)."""
    return app.bot_data.setdefault("jobs", {})


async def start_job(app: Application, chat_id: str | int, job: Job) -> None:
    """Say the job has begun, then run it beside the updates (it opens its own sessions)."""
    jobs = running_jobs(app)
    for key in [key for key, task in jobs.items() if task.done()]:
        del jobs[key]
    first = await output_of(app).send_text(chat_id, job.first, [])
    jobs[(str(chat_id), job.key, job.id)] = asyncio.get_running_loop().create_task(
        _run_job(app, chat_id, first, job), name=f"job:{job.key}:{chat_id}"
    )


async def _run_job(app: Application, chat_id: str | int, message_id: str, job: Job) -> None:
    output = output_of(app)
    throttle = Throttle()
    shown = job.first

    async def progress(text: str, fraction: float) -> None:
        # The first message is edited: at most every 2 s or 10 %, so the chat is not flooded.
        nonlocal shown
        if text == shown or not throttle.due(fraction):
            return
        shown = text
        try:
            await output.edit(chat_id, message_id, text)
        except TelegramError as error:
            log.info("could not show the progress of %s: %s", job.key, error)

    async def deliver_messages(messages: list[Outbound]) -> None:
        for message in messages:
            await output.deliver(chat_id, message)

    await run_job(core_of_app(app), job, progress=progress, deliver=deliver_messages)


async def stop_jobs(app: Application) -> None:
    """On shutdown a job is abandoned, not awaited (an export may take minutes); its temporary
    file goes with it."""
    tasks = [task for task in running_jobs(app).values() if not task.done()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
