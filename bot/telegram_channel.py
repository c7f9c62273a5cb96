"""The Telegram adapter: turns updates into `Inbound` events for the core and its answers into
Bot API calls. The only place python-telegram-bot is imported."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urlparse
from zoneinfo import ZoneInfo

from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeChat,
    BotCommandScopeDefault,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.error import BadRequest, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChatMemberHandler,
    ContextTypes,
    Defaults,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest

from bot.config import Settings
from bot.runtime import menu_of
from bot.sender import Sender, telegram_transport
from handlers import digest, reminders
from handlers.dispatcher import Core
from handlers.types import Choice, Inbound, Outbound, Result
from storage import outbox, queries

log = logging.getLogger(__name__)
CHANNEL = "telegram"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
MAX_MESSAGE = 4000


def keyboard(choices: list[list[Choice]]) -> InlineKeyboardMarkup | None:
    if not choices:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(c.label, callback_data=c.data) for c in row] for row in choices]
    )


def chunks(text: str, size: int = MAX_MESSAGE) -> list[str]:
    """Split a long text on line breaks so each part fits in one Telegram message."""
    parts: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > size:
            if current:
                parts.append(current)
                current = ""
            parts.append(line[:size])
            line = line[size:]
        candidate = f"{current}\n{line}" if current else line
        if len(candidate) > size:
            parts.append(current)
            current = line
        else:
            current = candidate
    if current or not parts:
        parts.append(current)
    return parts


async def send(app: Application, chat_id: str | int, message: Outbound) -> None:
    if message.document is not None:
        name, content = message.document
        await app.bot.send_document(chat_id=chat_id, document=content, filename=name)
    parts = chunks(message.text)
    for i, part in enumerate(parts):
        markup = keyboard(message.choices) if i == len(parts) - 1 else None
        await app.bot.send_message(chat_id=chat_id, text=part, reply_markup=markup)
    if message.photo is not None:
        await app.bot.send_photo(chat_id=chat_id, photo=message.photo)


async def deliver(app: Application, chat_id: str | int, result: Result) -> None:
    for message in result.messages:
        await send(app, chat_id, message)
    for channel, external_id in result.roles_changed:
        if channel == CHANNEL:
            await set_menu(app, int(external_id), external_id)


async def on_my_chat_member(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """Telegram says the person blocked the bot (or unblocked it): nothing is sent meanwhile."""
    change = update.my_chat_member
    if change is None or change.chat.type != "private":
        return
    status = change.new_chat_member.status
    if status not in ("kicked", "member"):
        return
    core = core_of(context)
    async with core.db.session() as session:
        identity = await queries.find_identity(
            session, channel=CHANNEL, external_id=str(change.from_user.id)
        )
        if identity is None:
            return
        if status == "kicked":
            # As a 403 would: what is queued for them is settled, not kept for later.
            await outbox.unreachable(
                session, member_id=identity.member_id, channel=CHANNEL, now=core.clock()
            )
        else:
            identity.unreachable_at = None


async def on_edited_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """An edited message is not read as a new answer (it would land on the current step)."""
    message = update.edited_message
    if message is not None and message.chat.type == "private":
        await context.bot.send_message(message.chat_id, core_of(context).texts("edit-not-read"))


def core_of(context: ContextTypes.DEFAULT_TYPE) -> Core:
    return context.application.bot_data["core"]


def attachment_of(message: Message) -> tuple[str | None, str | None]:
    """(kind, file id) of what was sent besides text; photos keep their largest size."""
    if message.photo:
        return "photo", message.photo[-1].file_id
    for kind in ("document", "sticker", "voice", "video", "audio", "location", "contact"):
        found = getattr(message, kind, None)
        if found:
            return kind, getattr(found, "file_id", None)
    return None, None


async def on_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    user = update.effective_user
    if message is None or user is None:
        return
    kind, file_id = attachment_of(message)
    inbound = Inbound(
        channel=CHANNEL,
        external_id=str(user.id),
        chat_id=str(message.chat_id),
        text=message.text or message.caption,
        attachment=kind,
        file_id=file_id,
        display_name=user.full_name,
    )
    result = await core_of(context).handle(inbound)
    await deliver(context.application, message.chat_id, result)


async def on_group_message(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    message = update.effective_message
    if message is not None and message.text and message.text.startswith("/"):
        await message.reply_text(core_of(context).texts("group-not-supported"))


def _pressed_label(message: Message, data: str) -> str | None:
    markup = message.reply_markup
    for row in markup.inline_keyboard if markup else ():
        for pressed in row:
            if pressed.callback_data == data:
                return pressed.text
    return None


async def on_callback(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    query = update.callback_query
    if query is None:
        return
    message = query.message if isinstance(query.message, Message) else None
    chat_id = message.chat_id if message else query.from_user.id
    inbound = Inbound(
        channel=CHANNEL,
        external_id=str(query.from_user.id),
        chat_id=str(chat_id),
        choice=query.data or "",
        display_name=query.from_user.full_name,
    )
    try:
        result = await core_of(context).handle(inbound)
    except Exception:
        # Stop the button's spinner; the error handler tells the person and logs.
        await query.answer()
        raise
    await query.answer(result.notice)
    if result.accepted_choice and message is not None and message.text:
        # Keep the question readable in the chat, with the answer given, and no live buttons.
        label = _pressed_label(message, query.data or "")
        text = f"{message.text}\n\n→ {label}" if label else message.text
        try:
            await query.edit_message_text(text=text[:4096], reply_markup=None)
        except BadRequest as error:
            log.info("could not mark the answered message: %s", error)
    await deliver(context.application, chat_id, result)


async def on_error(update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
    log.error("error while handling an update", exc_info=context.error)
    if isinstance(update, Update) and update.effective_chat is not None:
        try:
            await context.bot.send_message(
                update.effective_chat.id, core_of(context).texts("error-internal")
            )
        except TelegramError:
            log.exception("could not tell the person about the error")


async def set_menu(app: Application, chat_id: int, external_id: str) -> None:
    """A person's command menu. A failure (a deleted account, say) is logged, never fatal:
    the menu is a convenience and the person's action has already succeeded."""
    commands = await menu_of(core_of_app(app), channel=CHANNEL, external_id=external_id)
    try:
        await app.bot.set_my_commands(
            [BotCommand(name, text) for name, text in commands],
            scope=BotCommandScopeChat(chat_id),
        )
    except TelegramError as error:
        log.warning("could not set the command menu of chat %s: %s", chat_id, error)


def core_of_app(app: Application) -> Core:
    return app.bot_data["core"]


def sender_of(app: Application) -> Sender:
    """The outbox sender of this application (bot/sender.py): paced, crash-safe, one per app."""
    sender = app.bot_data.get("sender")
    if sender is None:
        core = core_of_app(app)
        settings: Settings = app.bot_data["settings"]
        sender = Sender(
            core.db,
            telegram_transport(app.bot_data.get("sender_bot") or app.bot),
            channel=CHANNEL,
            clock=core.clock,
            sleep=app.bot_data.get("sleep", asyncio.sleep),
            rate=settings.send_rate,
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
    sender_bot = Bot(settings.telegram_token.get_secret_value().strip(), **_api_urls(settings))
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


def _api_urls(settings: Settings) -> dict[str, str]:
    if not settings.telegram_api_url:
        return {}
    base = settings.telegram_api_url.rstrip("/")
    return {"base_url": f"{base}/bot", "base_file_url": f"{base}/file/bot"}


async def sweep_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await run_sweep(context.application)


async def digest_job(context: ContextTypes.DEFAULT_TYPE) -> None:
    await run_digests(context.application)


async def run_digests(app: Application) -> int:
    """Queue the digests whose scheduled slot has come (decided from the database)."""
    core = core_of_app(app)
    return await digest.sweep(core.db, core.config, core.clock(), core.texts)


async def run_sweep(app: Application) -> tuple[int, int]:
    """Queue the reminders and nudges due now (decided from the database, not from jobs)."""
    core = core_of_app(app)
    reminders_queued, nudges = await reminders.sweep(core.db, core.config, core.clock(), core.texts)
    if reminders_queued or nudges:
        log.info("queued %d reminders and %d nudges", reminders_queued, nudges)
    return reminders_queued, nudges


async def post_init(app: Application) -> None:
    core = core_of_app(app)
    username = app.bot.username
    core.config.invite_links[CHANNEL] = lambda code: f"https://t.me/{username}?start={code}"
    default = await menu_of(core, channel=CHANNEL, external_id="")
    await app.bot.set_my_commands(
        [BotCommand(name, text) for name, text in default], scope=BotCommandScopeDefault()
    )
    async with core.db.session() as session:
        staff = await queries.staff_identities(session, channel=CHANNEL)
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
    builder = (
        ApplicationBuilder()
        .token(settings.telegram_token.get_secret_value().strip())
        .defaults(Defaults(tzinfo=ZoneInfo(settings.timezone)))
        .rate_limiter(
            # Replies get what the outbox sender leaves of Telegram's ~30 messages/s.
            AIORateLimiter(overall_max_rate=max(1.0, 30 - settings.send_rate), max_retries=3)
        )
        .post_init(post_init)
    )
    urls = _api_urls(settings)
    if urls:
        builder = builder.base_url(urls["base_url"]).base_file_url(urls["base_file_url"])
    if request is not None:
        builder = builder.request(request).get_updates_request(request)
    app = builder.build()
    app.bot_data["core"] = core
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
        app.job_queue.run_repeating(
            sweep_job, interval=settings.sweep_interval_seconds, first=10, name="reminders"
        )
        app.job_queue.run_repeating(digest_job, interval=60, first=15, name="digests")
    return app


async def _startup(app: Application) -> None:
    await post_init(app)
    await start_sender(app)


def run(settings: Settings, core: Core) -> None:
    """Blocks until stopped: polling, or a webhook server when DVK_WEBHOOK_URL is set. The
    outbox sender runs beside it and stops gracefully with it."""
    app = build_application(settings, core)
    app.post_init = _startup
    app.post_stop = stop_sender
    if settings.webhook_url:
        assert settings.webhook_secret is not None
        app.run_webhook(
            listen=settings.webhook_listen,
            port=settings.webhook_port,
            url_path=urlparse(settings.webhook_url).path.lstrip("/"),
            webhook_url=settings.webhook_url,
            secret_token=settings.webhook_secret.get_secret_value(),
            allowed_updates=ALLOWED_UPDATES,
        )
    else:
        app.run_polling(allowed_updates=ALLOWED_UPDATES)
