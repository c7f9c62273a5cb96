"""Telegram's delivery: the Bot API calls an `Outbound` becomes, for replies, background jobs and
the outbox alike (bot/delivery.py decides everything Telegram has no call for)."""

from __future__ import annotations

import asyncio
import logging
import warnings
from datetime import timedelta
from pathlib import Path
from typing import Any

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, InputMediaPhoto
from telegram.error import BadRequest, ChatMigrated, Forbidden, RetryAfter, TelegramError
from telegram.ext import Application

from bot.channels import TELEGRAM, TELEGRAM_CAPABILITIES, Capabilities, channels_of
from bot.config import Settings
from bot.delivery import (
    ChatId,
    Output,
    Rejected,
    RetryLater,
    Track,
    Transient,
    Transport,
    Unreachable,
    outbox_transport,
)
from bot.media_links import Media
from handlers.core.router import Core
from handlers.core.types import Choice
from language import vn
from language.texts import Texts

log = logging.getLogger(__name__)
# Telegram's Bot API takes uploads up to 50 MB; a local Bot API server up to 2.000 MB.
UPLOAD_LIMIT_MB = 50
LOCAL_UPLOAD_LIMIT_MB = 2000
# Photos in one album (sendMediaGroup takes 2 to 10).
ALBUM = 10


def keyboard(choices: list[list[Choice]]) -> InlineKeyboardMarkup | None:
    if not choices:
        return None
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(c.label, callback_data=c.data) for c in row] for row in choices]
    )


class TelegramOutput(Output):
    file_ids = True

    def __init__(
        self,
        bot: Bot,
        capabilities: Capabilities,
        *,
        local_api: bool = False,
        texts: Texts | None = None,
        track: Track | None = None,
        media: Media | None = None,
    ) -> None:
        super().__init__(capabilities, texts=texts, track=track, media=media)
        self.bot = bot
        self.local_api = local_api

    async def send_text(self, chat_id: ChatId, text: str, choices: list[list[Choice]]) -> str:
        sent = await self.bot.send_message(
            chat_id=chat_id, text=text, reply_markup=keyboard(choices)
        )
        return str(sent.message_id)

    async def send_document(self, chat_id: ChatId, name: str, content: bytes) -> None:
        await self.bot.send_document(chat_id=chat_id, document=content, filename=name)

    async def send_file(self, chat_id: ChatId, name: str, path: Path) -> None:
        """A document from disk; one too big for Telegram is replaced by a message saying so."""
        limit = LOCAL_UPLOAD_LIMIT_MB if self.local_api else UPLOAD_LIMIT_MB
        size = (await asyncio.to_thread(path.stat)).st_size / 1024 / 1024
        if size > limit:
            # An archive of photos is made again by another command than a workbook.
            key = "file-too-large-photos" if name.endswith(".zip") else "file-too-large"
            text = self.texts(
                key,
                name=name,
                size=vn.format_number(round(size, 1)),
                limit=vn.format_number(limit),
            )
            await self.bot.send_message(chat_id=chat_id, text=text)
            return
        # python-telegram-bot holds an upload in memory anyway; at most the limit above.
        content = await asyncio.to_thread(path.read_bytes)
        await self.bot.send_document(
            chat_id=chat_id, document=content, filename=name, write_timeout=300
        )

    async def send_photo(self, chat_id: ChatId, photo: bytes) -> None:
        await self.bot.send_photo(chat_id=chat_id, photo=photo)

    async def send_photo_url(self, chat_id: ChatId, url: str) -> None:
        await self.bot.send_photo(chat_id=chat_id, photo=url)

    async def send_album(self, chat_id: ChatId, items: list[bytes | str], keys: list[str]) -> None:
        """Albums of up to ten (sendMediaGroup); one picture alone goes as a photo. A file id
        Telegram no longer knows (another bot's, say) is sent again as the bytes the media
        store keeps; those it does not keep are counted in a notice."""
        try:
            await self._albums(chat_id, items)
        except BadRequest:
            if self.media is None or all(isinstance(item, bytes) for item in items):
                raise
            kept = [await self.media.store.get(key) if key else None for key in keys]
            contents = [content for content in kept if content is not None]
            log.warning("photos sent again from the media store: Telegram refused a file id")
            if contents:
                await self._albums(chat_id, list(contents))
            if len(contents) < len(items):
                missing = len(items) - len(contents)
                notice = self.texts("channel-pictures-missing", count=missing)
                await self.bot.send_message(chat_id=chat_id, text=notice)

    async def _albums(self, chat_id: ChatId, items: list[bytes | str]) -> None:
        for start in range(0, len(items), ALBUM):
            group = items[start : start + ALBUM]
            if len(group) == 1:
                await self.bot.send_photo(chat_id=chat_id, photo=group[0])
            else:
                media = [InputMediaPhoto(item) for item in group]
                await self.bot.send_media_group(chat_id=chat_id, media=media)

    async def edit_text(self, chat_id: ChatId, message_id: str, text: str) -> None:
        await self.bot.edit_message_text(text=text, chat_id=chat_id, message_id=int(message_id))


def core_of_app(app: Application) -> Core:
    return app.bot_data["core"]


def output_of(app: Application) -> TelegramOutput:
    """The delivery of replies and jobs: through the application's bot (rate limited)."""
    output = app.bot_data.get("output")
    if output is None:
        core = core_of_app(app)
        settings: Settings = app.bot_data["settings"]

        async def track(key: str, chat_id: str, message_id: str) -> None:
            await core.track_message(key, TELEGRAM, chat_id, message_id)

        output = TelegramOutput(
            app.bot,
            channels_of(core)[TELEGRAM].capabilities,
            local_api=bool(settings.telegram_api_url),
            texts=core.texts,
            track=track,
            media=channels_of(core).media,
        )
        app.bot_data["output"] = output
    return output


def telegram_transport(bot: Any, capabilities: Capabilities | None = None) -> Transport:
    """The outbox's delivery through a python-telegram-bot `Bot`, its errors translated for the
    sender. Use a plain Bot (no AIORateLimiter): the Sender paces itself."""
    deliver = outbox_transport(TelegramOutput(bot, capabilities or TELEGRAM_CAPABILITIES))

    async def send(chat_id: str, payload: dict[str, Any]) -> None:
        try:
            await deliver(chat_id, payload)
        except RetryAfter as error:
            with warnings.catch_warnings():  # PTB 22 warns that the int will become a timedelta
                warnings.simplefilter("ignore")
                wait = error.retry_after
            seconds = wait.total_seconds() if isinstance(wait, timedelta) else float(wait)
            raise RetryLater(seconds) from error
        except Forbidden as error:
            raise Unreachable(str(error)) from error
        except (BadRequest, ChatMigrated) as error:  # BadRequest before NetworkError, its base
            raise Rejected(str(error)) from error
        except TelegramError as error:  # TimedOut, NetworkError (5xx included) and the rest
            raise Transient(f"{type(error).__name__}: {error}") from error

    return send


def api_urls(settings: Settings) -> dict[str, str]:
    if not settings.telegram_api_url:
        return {}
    base = settings.telegram_api_url.rstrip("/")
    return {"base_url": f"{base}/bot", "base_file_url": f"{base}/file/bot"}
