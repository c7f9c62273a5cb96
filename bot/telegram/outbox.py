"""The outbox sender beside the application (bot/sender.py): one per bot token, with a Bot of
its own, paced by the channel's declared rates."""

from __future__ import annotations

import asyncio

from telegram import Bot
from telegram.ext import Application

from bot.channels import TELEGRAM, channels_of
from bot.config import Settings
from bot.ops.metrics import metrics_of
from bot.sender import Sender
from bot.telegram.delivery import api_urls, core_of_app, telegram_transport


def sender_of(app: Application) -> Sender:
    """The outbox sender of this application (bot/sender.py): paced, crash-safe, one per app."""
    sender = app.bot_data.get("sender")
    if sender is None:
        core = core_of_app(app)
        channel = channels_of(core)[TELEGRAM]
        sender = Sender.for_channel(
            core.db,
            channel,
            telegram_transport(app.bot_data.get("sender_bot") or app.bot, channel.capabilities),
            clock=core.clock,
            sleep=app.bot_data.get("sleep", asyncio.sleep),
            on_rate_limited=metrics_of(core).counting_429s(TELEGRAM),
        )
        app.bot_data["sender"] = sender
    return sender


async def flush_outbox(app: Application) -> int:
    """One round of the sender: what is due now, sent and settled. Returns how many."""
    return await sender_of(app).run_once()


async def start_sender(app: Application) -> None:
    """Run the sender for as long as the application runs. It uses a Bot of its own without
    python-telegram-bot's rate limiter: it paces itself (DVK_SEND_RATE, below Telegram's ~30/s
    overall, so replies, which the rate limiter paces, keep room and never queue behind it)."""
    settings: Settings = app.bot_data["settings"]
    sender_bot = Bot(settings.telegram_token.get_secret_value().strip(), **api_urls(settings))
    await sender_bot.initialize()
    app.bot_data["sender_bot"] = sender_bot
    stop = asyncio.Event()
    app.bot_data["sender_stop"] = stop
    app.bot_data["sender_task"] = asyncio.get_running_loop().create_task(
        sender_of(app).run(stop), name="outbox-sender"
    )


async def stop_sender(app: Application) -> None:
    """On shutdown (SIGTERM included): claim nothing new, let what is in flight finish and be
    recorded, so a stop sends nothing twice."""
    stop = app.bot_data.get("sender_stop")
    task = app.bot_data.get("sender_task")
    if stop is not None and task is not None:
        stop.set()
        await task
    sender_bot = app.bot_data.get("sender_bot")
    if sender_bot is not None:
        await sender_bot.shutdown()
