"""`dvk media fetch`: the evidence photos kept only as Telegram file ids (sent before the media
store existed) downloaded once through the Bot API, checked like a photo sent now, and kept in
the store with their key written to the report. Committed a batch at a time, so that an
interruption keeps what was done and a second run fetches only what is left.

A file Telegram no longer has, or one that is not a picture, is skipped and listed; when the API
cannot be reached at all (no token, the network, a token refused) the run stops there. What is
still not in the store is listed by model and report; the last line counts
`fetched= failed= remaining=`."""

from __future__ import annotations

import sys

from sqlalchemy import update
from telegram import Bot
from telegram.error import BadRequest, NetworkError, TelegramError
from telegram.request import BaseRequest

from bot.config import Settings
from bot.media_links import Media, media_of
from bot.telegram.delivery import api_urls
from handlers.coordinator.photos import missing_text
from handlers.core.jobs import Throttle
from language import vn
from language.texts import Texts
from storage.db import Database
from storage.media import MediaRefused
from storage.models import ReportPhoto
from storage.records.photos import missing_by_model, photos_to_fetch, unfetched_photos

BATCH = 20
EXIT_STOPPED = 1


class Unreachable(Exception):
    """The Bot API cannot be used now: nothing after this photo can be fetched either."""


def telegram_bot(settings: Settings, request: BaseRequest | None = None) -> Bot:
    """The Bot the running bot would use: its token, DVK_TELEGRAM_API_URL if set."""
    assert settings.telegram_token is not None
    return Bot(
        settings.telegram_token.get_secret_value().strip(),
        request=request,
        get_updates_request=request,
        **api_urls(settings),
    )


async def download(bot: Bot, media: Media, file_id: str) -> str:
    """One photo fetched and kept; its key. Raises Unreachable, TelegramError, MediaRefused."""
    try:
        found = await bot.get_file(file_id)
    except BadRequest:
        raise  # this file: "invalid file_id", Telegram no longer has it
    except TelegramError as error:  # the network, a token refused, too many requests
        raise Unreachable(str(error) or type(error).__name__) from error
    try:
        content = bytes(await found.download_as_bytearray())
    except BadRequest:
        raise
    except NetworkError as error:
        raise Unreachable(str(error) or type(error).__name__) from error
    # Anything else (a 404, which python-telegram-bot reads as InvalidToken, though getFile has
    # just accepted the token) is this file's: the caller skips it.
    return await media.keep_photo(content)


async def fetch_command(
    settings: Settings, *, request: BaseRequest | None = None, batch: int = BATCH
) -> int:
    t = Texts(settings.language)
    media = media_of(settings)
    db = Database.from_url(settings.database_url, busy_timeout=settings.db_busy_timeout)
    fetched = failed = 0
    stopped: str | None = None
    try:
        async with db.read() as session:
            total = len(await unfetched_photos(session))
        if total and settings.telegram_token is None:
            stopped = t("cli-media-no-token")
        elif total:
            bot = telegram_bot(settings, request)
            try:
                await bot.initialize()  # getMe: the token and the network, once
            except TelegramError as error:
                stopped = t("cli-media-unreachable", reason=str(error) or type(error).__name__)
            else:
                try:
                    fetched, failed, stopped = await _fetch_all(bot, media, db, t, total, batch)
                finally:
                    await bot.shutdown()
        async with db.read() as session:
            left = await unfetched_photos(session)
    finally:
        await db.dispose()
    if stopped:
        print(stopped, file=sys.stderr)
    if left:
        print(missing_text(t, missing_by_model(left), advice=False))
    elif not fetched:
        print(t("cli-media-nothing"))
    print(f"fetched={fetched} failed={failed} remaining={len(left)}")
    return EXIT_STOPPED if stopped else 0


async def _fetch_all(
    bot: Bot, media: Media, db: Database, t: Texts, total: int, batch: int
) -> tuple[int, int, str | None]:
    fetched = failed = 0
    after = 0
    throttle = Throttle(every=2)
    while True:
        # One transaction a batch: what was kept stays kept if the run ends on the next one.
        async with db.session() as session:
            photos = await photos_to_fetch(session, after_id=after, limit=batch)
            if not photos:
                return fetched, failed, None
            for photo in photos:
                after = photo.photo_id
                try:
                    key = await download(bot, media, photo.file_id)
                except Unreachable as error:
                    return fetched, failed + 1, t("cli-media-unreachable", reason=str(error))
                except (TelegramError, MediaRefused) as error:
                    failed += 1
                    reason = _why(t, error)
                    said = t(
                        "cli-media-failed",
                        file_id=photo.file_id,
                        code=photo.model_code,
                        reason=reason,
                    )
                    print(said, file=sys.stderr)
                    continue
                await session.execute(
                    update(ReportPhoto)
                    .where(ReportPhoto.id == photo.photo_id)
                    .values(media_key=key)
                )
                fetched += 1
                if throttle.due((fetched + failed) / total):
                    done = vn.format_number(fetched + failed)
                    text = t("cli-media-progress", done=done, total=vn.format_number(total))
                    print(text, file=sys.stderr, flush=True)


def _why(t: Texts, error: TelegramError | MediaRefused) -> str:
    if isinstance(error, TelegramError):  # "invalid file_id", a 404 on the download
        return t("cli-media-gone", detail=str(error) or type(error).__name__)
    if error.key == "media-photo-too-large":
        return t("cli-media-too-large", **error.params)
    return t("cli-media-not-photo")
