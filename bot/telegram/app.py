"""Building the Telegram application: the adapter's handlers, the repeating jobs, the rate limiter
for replies, and what the channel learns at start-up (its username, its way of fetching files)."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from telegram import BotCommand, BotCommandScopeDefault
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    Defaults,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot import schedules
from bot.channels import channels_of
from bot.config import Settings
from bot.replicas.leader import TICK_SECONDS
from bot.runtime import menu_of
from bot.telegram.adapter import (
    CHANNEL,
    on_callback,
    on_edited_message,
    on_error,
    on_group_message,
    on_message,
    on_my_chat_member,
    set_menu,
)
from bot.telegram.delivery import api_urls, core_of_app
from bot.telegram.inbox import PersonProcessor
from bot.telegram.schedule import (
    BROADCAST_PROGRESS_SECONDS,
    broadcast_progress_job,
    digest_job,
    leader_job,
    retention_job,
    sweep_job,
)
from bot.updates.order import PersonOrder
from handlers.core.router import Core
from storage.records.people import staff_identities


async def post_init(app: Application) -> None:
    core = core_of_app(app)
    # getMe has run (initialize): the channel is complete before polling or the webhook starts.
    channels = channels_of(core)
    channels.start(CHANNEL, username=app.bot.username)
    channels.require_complete(CHANNEL)
    default = await menu_of(core, channel=CHANNEL, external_id="")
    await app.bot.set_my_commands(
        [BotCommand(name, text) for name, text in default], scope=BotCommandScopeDefault()
    )
    async with core.db.session() as session:
        staff = await staff_identities(session, channel=CHANNEL)
        staff_ids = [(identity.chat_id, identity.external_id) for identity in staff]
    for chat_id, external_id in staff_ids:
        await set_menu(app, int(chat_id), external_id)


def build_application(
    settings: Settings,
    core: Core,
    *,
    request: BaseRequest | None = None,
) -> Application:
    assert settings.telegram_token is not None
    rates = channels_of(core)[CHANNEL].rates
    assert rates is not None and rates.overall is not None
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_token.get_secret_value().strip())
        .defaults(Defaults(tzinfo=ZoneInfo(settings.timezone)))
        .rate_limiter(
            # Replies get what the outbox sender leaves of Telegram's ~30 messages/s.
            AIORateLimiter(
                overall_max_rate=max(1.0, rates.overall - rates.per_second), max_retries=3
            )
        )
        .post_init(post_init)
        # One person's updates in order, different people's side by side (docs/concurrency.md).
        .concurrent_updates(PersonProcessor(PersonOrder(settings.concurrent_updates)))
    )
    urls = api_urls(settings)
    if urls:
        builder = builder.base_url(urls["base_url"]).base_file_url(urls["base_file_url"])
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    app = builder.build()
    app.bot_data["core"] = core

    async def fetch_file(file_id: str) -> bytes:
        # Bots can download files of up to 20 MB; the core refuses larger ones beforehand.
        found = await app.bot.get_file(file_id)
        return bytes(await found.download_as_bytearray())

    channels_of(core).start(CHANNEL, fetch=fetch_file)
    app.bot_data["settings"] = settings
    app.add_handler(CallbackQueryHandler(on_callback))
    app.add_handler(
        MessageHandler(
            filters.UpdateType.MESSAGE & filters.ChatType.PRIVATE & ~filters.StatusUpdate.ALL,
            on_message,
        )
    )
    app.add_handler(MessageHandler(filters.UpdateType.EDITED_MESSAGE, on_edited_message))
    app.add_handler(ChatMemberHandler(on_my_chat_member, ChatMemberHandler.MY_CHAT_MEMBER))
    app.add_handler(
        MessageHandler(filters.UpdateType.MESSAGE & filters.ChatType.GROUPS, on_group_message)
    )
    app.add_error_handler(on_error)
    if app.job_queue is not None:
        # One process runs the sweeps when several serve the database (bot/replicas/leader.py).
        app.job_queue.run_repeating(leader_job, interval=TICK_SECONDS, first=0, name="leader")
        app.job_queue.run_repeating(
            sweep_job, interval=settings.sweep_interval_seconds, first=10, name="reminders"
        )
        app.job_queue.run_repeating(digest_job, interval=60, first=15, name="digests")
        app.job_queue.run_repeating(
            retention_job, interval=schedules.RETENTION_SECONDS, first=60, name="retention"
        )
        app.job_queue.run_repeating(
            broadcast_progress_job,
            interval=BROADCAST_PROGRESS_SECONDS,
            first=BROADCAST_PROGRESS_SECONDS,
            name="broadcast-progress",
        )
    return app
