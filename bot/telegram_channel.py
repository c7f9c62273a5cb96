"""The Telegram adapter: turns updates into `Inbound` events for the core and its answers into
Bot API calls. With bot/telegram_run.py (polling, the webhook), the only place
python-telegram-bot is imported."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
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

from bot import schedules
from bot.config import Settings
from bot.runtime import menu_of
from bot.sender import Sender, telegram_transport
from handlers.admin import broadcast
from handlers.core.jobs import Job, Throttle, run_job
from handlers.core.router import Core
from handlers.core.types import Choice, Inbound, Outbound, Result
from language import vn
from storage import outbox, queries

log = logging.getLogger(__name__)
CHANNEL = "telegram"
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]
MAX_MESSAGE = 4000
# How often the admins' broadcast progress messages are brought up to date.
BROADCAST_PROGRESS_SECONDS = 5


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
    if message.document_file is not None:
        await send_file(app, chat_id, *message.document_file)
    parts = chunks(message.text)
    for i, part in enumerate(parts):
        markup = keyboard(message.choices) if i == len(parts) - 1 else None
        sent = await app.bot.send_message(chat_id=chat_id, text=part, reply_markup=markup)
    if message.track is not None:
        await core_of_app(app).track_message(
            message.track, CHANNEL, str(chat_id), str(sent.message_id)
        )
    if message.photo is not None:
        await app.bot.send_photo(chat_id=chat_id, photo=message.photo)


async def deliver(app: Application, chat_id: str | int, result: Result) -> None:
    for message in result.messages:
        await send(app, chat_id, message)
    for channel, external_id in result.roles_changed:
        if channel == CHANNEL:
            await set_menu(app, int(external_id), external_id)
    for job in result.jobs:
        await start_job(app, chat_id, job)


# --- background jobs (an Excel export): handlers/jobs.py --------------------------------------

# Telegram's Bot API takes uploads up to 50 MB; a local Bot API server up to 2.000 MB.
UPLOAD_LIMIT_MB = 50
LOCAL_UPLOAD_LIMIT_MB = 2000


async def send_file(app: Application, chat_id: str | int, name: str, path: Path) -> None:
    """A document from disk; one too big for Telegram is replaced by a message saying so."""
    settings: Settings = app.bot_data["settings"]
    limit = LOCAL_UPLOAD_LIMIT_MB if settings.telegram_api_url else UPLOAD_LIMIT_MB
    size = (await asyncio.to_thread(path.stat)).st_size / 1024 / 1024
    if size > limit:
        text = core_of_app(app).texts(
            "file-too-large",
            name=name,
            size=vn.format_number(round(size, 1)),
            limit=vn.format_number(limit),
        )
        await app.bot.send_message(chat_id=chat_id, text=text)
        return
    # python-telegram-bot holds an upload in memory anyway; at most the limit above.
    content = await asyncio.to_thread(path.read_bytes)
    await app.bot.send_document(chat_id=chat_id, document=content, filename=name, write_timeout=300)


def running_jobs(app: Application) -> dict[tuple[str, str], asyncio.Task[None]]:
    """(chat, job key) -> its task: one job of a kind per chat; tests await them."""
    return app.bot_data.setdefault("jobs", {})


async def start_job(app: Application, chat_id: str | int, job: Job) -> None:
    """Say the job has begun, then run it beside the updates (it opens its own sessions)."""
    jobs = running_jobs(app)
    key = (str(chat_id), job.key)
    if key in jobs and not jobs[key].done():
        await app.bot.send_message(chat_id=chat_id, text=job.busy)
        return
    first = await app.bot.send_message(chat_id=chat_id, text=job.first)
    jobs[key] = asyncio.get_running_loop().create_task(
        _run_job(app, chat_id, first.message_id, job), name=f"job:{job.key}:{chat_id}"
    )


async def _run_job(app: Application, chat_id: str | int, message_id: int, job: Job) -> None:
    throttle = Throttle()
    shown = job.first

    async def progress(text: str, fraction: float) -> None:
        # The first message is edited: at most every 2 s or 10 %, so the chat is not flooded.
        nonlocal shown
        if text == shown or not throttle.due(fraction):
            return
        shown = text
        try:
            await app.bot.edit_message_text(text=text, chat_id=chat_id, message_id=message_id)
        except TelegramError as error:
            log.info("could not show the progress of %s: %s", job.key, error)

    async def deliver_messages(messages: list[Outbound]) -> None:
        for message in messages:
            await send(app, chat_id, message)

    await run_job(core_of_app(app), job, progress=progress, deliver=deliver_messages)


async def stop_jobs(app: Application) -> None:
    """On shutdown a job is abandoned, not awaited (an export may take minutes); its temporary
    file goes with it."""
    tasks = [task for task in running_jobs(app).values() if not task.done()]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


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
    document = message.document
    inbound = Inbound(
        channel=CHANNEL,
        external_id=str(user.id),
        chat_id=str(message.chat_id),
        text=message.text or message.caption,
        attachment=kind,
        file_id=file_id,
        display_name=user.full_name,
        file_name=document.file_name if document else None,
        file_size=document.file_size if document else None,
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
    if message is not None and message.chat.type != "private":
        # As for group messages: the bot works in private chats only. Handled, the press would
        # make the group this person's chat, and their reminders would go there.
        await query.answer(core_of(context).texts("group-not-supported"), show_alert=True)
        return
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
    try:
        await query.answer(result.notice)
    except BadRequest as error:
        # Too old to answer (queueing a broadcast to many takes seconds): the result still goes.
        log.info("could not answer the button press: %s", error)
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
    return await schedules.sweep_digests(core_of_app(app))


async def run_sweep(app: Application) -> tuple[int, int]:
    """Queue the reminders and nudges due now (decided from the database, not from jobs)."""
    return await schedules.sweep_reminders(core_of_app(app))


async def broadcast_progress_job(context: ContextTypes.DEFAULT_TYPE) -> None:
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

    async def fetch_file(file_id: str) -> bytes:
        # Bots can download files of up to 20 MB; the core refuses larger ones beforehand.
        found = await app.bot.get_file(file_id)
        return bytes(await found.download_as_bytearray())

    core.config.fetch_file[CHANNEL] = fetch_file
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
        app.job_queue.run_repeating(
            broadcast_progress_job,
            interval=BROADCAST_PROGRESS_SECONDS,
            first=BROADCAST_PROGRESS_SECONDS,
            name="broadcast-progress",
        )
    return app
