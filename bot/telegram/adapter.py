"""The Telegram adapter: updates become `Inbound` events for the core, and its results go out
through the channel's one delivery (bot/telegram/delivery.py)."""

from __future__ import annotations

import logging

from telegram import BotCommand, BotCommandScopeChat, Message, Update
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application, ContextTypes

from bot.channels import TELEGRAM, channels_of
from bot.runtime import menu_of
from bot.telegram import inbox
from bot.telegram.delivery import core_of_app, output_of
from bot.telegram.jobs import start_job
from handlers.core.router import Core
from handlers.core.types import Inbound, Result
from storage import outbox
from storage.media import MediaRefused
from storage.records.people import find_identity

log = logging.getLogger(__name__)
CHANNEL = TELEGRAM
ALLOWED_UPDATES = ["message", "edited_message", "callback_query", "my_chat_member"]


async def deliver(app: Application, chat_id: str | int, result: Result) -> None:
    output = output_of(app)
    for message in result.messages:
        await output.deliver(chat_id, message)
    for channel, external_id in result.roles_changed:
        if channel == CHANNEL:
            await set_menu(app, int(external_id), external_id)
    for job in result.jobs:
        await start_job(app, chat_id, job)


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
        identity = await find_identity(
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
    media_key = None
    if kind == "photo" and file_id is not None:
        try:
            media_key = await keep_photo(core_of(context), message, file_id)
        except MediaRefused as refused:
            await message.reply_text(core_of(context).texts(refused.key, **refused.params))
            return
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
        media_key=media_key,
    )
    result = await core_of(context).handle(inbound, within=inbox.within())
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
        result = await core_of(context).handle(inbound, within=inbox.within())
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
    inbox.note_error(context.error)
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


async def keep_photo(core: Core, message: Message, file_id: str) -> str | None:
    """A photo is downloaded as it arrives and kept in the media store, so that it can be shown
    on any channel; its key (None where no store is configured). Raises MediaRefused."""
    channels = channels_of(core)
    media, fetch = channels.media, channels.file_fetcher(CHANNEL)
    if media is None or fetch is None:
        return None
    declared = message.photo[-1].file_size if message.photo else None
    if declared is not None and declared > media.max_bytes:
        raise MediaRefused("media-photo-too-large", limit=max(1, media.max_bytes // 1024**2))
    try:
        content = await fetch(file_id)
    except TelegramError as error:
        log.warning("could not download a photo: %s", error)
        raise MediaRefused("media-photo-failed") from error
    return await media.keep_photo(content)
