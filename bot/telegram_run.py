"""Running the Telegram bot: long polling, or a webhook on the project's own HTTP server
(bot/http.py), with the outbox sender beside it, in one event loop that SIGINT and SIGTERM stop
gracefully. The server also runs in polling mode when DVK_PUBLIC_URL is set (its media links)
or DVK_HTTP_PORT is (its health and metrics)."""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import socket
import sys
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Any
from urllib.parse import urlparse

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from telegram import Update
from telegram.error import InvalidToken
from telegram.ext import Application

from bot import http, schedules
from bot.channels import channels_of
from bot.config import Settings
from bot.media_links import Media
from bot.ops import monitor
from bot.ops.jobs import stop_at_start, watch_jobs
from bot.ops.memory import freeze_startup
from bot.telegram.adapter import ALLOWED_UPDATES
from bot.telegram.app import build_application, post_init
from bot.telegram.delivery import core_of_app
from bot.telegram.inbox import TelegramInbox
from bot.telegram.jobs import stop_jobs
from bot.telegram.outbox import start_sender, stop_sender
from bot.telegram.polling import TelegramPoller
from bot.telegram.schedule import leader_of
from bot.zalo import upload
from handlers.core.router import Core

log = logging.getLogger(__name__)
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
EXIT_CONFIG = 2


def webhook_path(settings: Settings) -> str:
    """The server listens on the path of the public URL (a proxy forwards it unchanged)."""
    assert settings.webhook_url
    return "/" + urlparse(settings.webhook_url).path.lstrip("/")


def webhook_route(inbox: TelegramInbox, *, path: str, secret: str) -> Route:
    """Telegram's POSTs: the secret header first, then the size, then the update. Only a valid
    update is recorded in the inbox, before the 200 (a redelivery changes nothing); a database
    that cannot take it answers 503, and Telegram delivers it again."""

    async def telegram_webhook(request: Request) -> Response:
        if not http.secret_matches(request, SECRET_HEADER, secret):
            return http.refusal(403)
        try:
            body = await http.read_body(request)
        except http.BodyTooLarge:
            return http.refusal(413)
        except ValueError:
            return http.refusal(400)
        parsed = _update_of(body, inbox.application)
        if parsed is None:
            return Response(status_code=400)
        update, data = parsed
        try:
            await inbox.record(update, data)
        except Exception:
            log.exception("a Telegram update could not be recorded; Telegram will deliver it again")
            return Response(status_code=503)
        return Response(status_code=200)

    return Route(path, telegram_webhook, methods=["POST"])


def _update_of(body: bytes, application: Application) -> tuple[Update, dict[str, Any]] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        return None
    try:
        return Update.de_json(data, application.bot), data
    except (TypeError, ValueError, KeyError, AttributeError) as error:
        log.info("refused a webhook body that is not an update: %s", error)
        return None


async def open_webhook(
    inbox: TelegramInbox,
    settings: Settings,
    media: Media | None = None,
    routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """Tell Telegram where to post (with the secret) and return the server's app for it, with
    the links to `media` where there are any and the other channels' `routes`."""
    assert settings.webhook_url and settings.webhook_secret
    secret = settings.webhook_secret.get_secret_value()
    await inbox.application.bot.set_webhook(
        url=settings.webhook_url, secret_token=secret, allowed_updates=ALLOWED_UPDATES
    )
    hook = webhook_route(inbox, path=webhook_path(settings), secret=secret)
    core = core_of_app(inbox.application)
    return http.make_app([hook, *routes], media=media, monitor=monitor_routes(core, settings))


def monitor_routes(core: Core, settings: Settings) -> list[BaseRoute]:
    """`/healthz` and `/metrics` (bot/ops/monitor.py)."""
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None
    return monitor.routes(core, token)


def serves_http(settings: Settings) -> bool:
    """The HTTP server runs for a webhook, and in polling mode too where links are served or
    where DVK_HTTP_PORT is set (for `/healthz` and `/metrics`)."""
    return bool(settings.webhook_url or settings.public_url or settings.http_port_set())


@contextmanager
def _stopped_by_signals(stop: asyncio.Event) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    signals = (signal.SIGINT, signal.SIGTERM)
    for number in signals:
        loop.add_signal_handler(number, stop.set)
    try:
        yield
    finally:
        for number in signals:
            loop.remove_signal_handler(number)


async def serve(
    settings: Settings,
    core: Core,
    *,
    sock: socket.socket | None = None,
    stop: asyncio.Event | None = None,
    routes: Sequence[BaseRoute] = (),
) -> None:
    """Run until `stop` is set (by SIGINT or SIGTERM when none is given). In webhook mode the
    server listens on `sock` (bound from the settings when none is given), with the other
    channels' `routes` too. Raises InvalidToken when Telegram rejects the token."""
    if serves_http(settings) and sock is None:
        sock = http.listen(settings.http_listen, settings.http_port)
    application = build_application(settings, core)
    signals: AbstractContextManager[None] = nullcontext()
    if stop is None:
        stop = asyncio.Event()
        signals = _stopped_by_signals(stop)
    try:
        with signals:
            async with application:  # initialize (getMe) ... shutdown
                await post_init(application)
                await start_sender(application)
                inbox = TelegramInbox(application)
                inbox_stop = asyncio.Event()
                working: asyncio.Task[None] | None = None
                try:
                    await application.start()
                    # What is pending (a restart's leftovers) first, then what is recorded.
                    working = asyncio.create_task(inbox.work(inbox_stop), name="telegram-inbox")
                    if sock is not None:
                        await _serve_http(inbox, settings, sock, stop, routes)
                    else:
                        await TelegramPoller(inbox).run(stop)
                finally:
                    if working is not None:
                        inbox_stop.set()
                        await working  # the updates being handled are finished first
                    # What python-telegram-bot's run_polling does on a stop, in its order.
                    if application.running:
                        await application.stop()  # waits for the update being handled
                    await leader_of(application).resign()  # another replica sweeps at once
                    await stop_jobs(application)
                    await stop_sender(application)
    finally:
        if sock is not None:
            sock.close()  # uvicorn closes it too, unless it never started


async def _serve_http(
    inbox: TelegramInbox,
    settings: Settings,
    sock: socket.socket,
    stop: asyncio.Event,
    routes: Sequence[BaseRoute] = (),
) -> None:
    application = inbox.application
    media = channels_of(core_of_app(application)).media
    if settings.webhook_url:
        # The socket already listens: what Telegram posts from now on waits for the server.
        app = await open_webhook(inbox, settings, media, routes)
        await http.serve_until(app, sock, stop)  # nothing is recorded after this
        return
    # Polling, with the server for the links: either one failing stops the other.
    app = http.make_app(
        routes, media=media, monitor=monitor_routes(core_of_app(application), settings)
    )
    tasks = [
        asyncio.create_task(TelegramPoller(inbox).run(stop), name="telegram-polling"),
        asyncio.create_task(http.serve_until(app, sock, stop), name="telegram-http"),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    finally:
        stop.set()
        results = await asyncio.gather(*tasks, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result


def run(settings: Settings, core: Core) -> int:
    """`dvk run`: every configured channel; blocks until SIGINT or SIGTERM; the exit code."""
    from bot.zalo.api import ZaloError

    telegram = settings.token_problem() is None
    t = core.texts
    sock = None
    # One HTTP server for every channel: webhooks, media and download links, health.
    if serves_http(settings):
        try:
            sock = http.listen(settings.http_listen, settings.http_port)
        except OSError as error:
            text = t(
                "cli-cannot-listen",
                address=f"{settings.http_listen}:{settings.http_port}",
                reason=error.strerror or error,
            )
            print(text, file=sys.stderr)
            return EXIT_CONFIG
    try:
        asyncio.run(serve_channels(settings, core, sock=sock, telegram=telegram))
    except ZaloError as error:
        # Its message carries no URL, so no token (bot/zalo/api.py).
        print(t("cli-zalo-refused", reason=error), file=sys.stderr)
        return EXIT_CONFIG
    except InvalidToken:
        # python-telegram-bot's own message repeats the token: it is not shown.
        print(t("cli-token-rejected"), file=sys.stderr)
        return EXIT_CONFIG
    finally:
        if sock is not None:
            sock.close()  # uvicorn closes it too, unless it never started
    return 0


async def serve_channels(
    settings: Settings, core: Core, *, sock: socket.socket | None, telegram: bool
) -> None:
    """Telegram (when its token is set) and Zalo (when DVK_ZALO_TOKEN is) in one loop, stopped
    together by SIGINT or SIGTERM; one that fails stops the other and its error is raised. The
    HTTP server on `sock` carries both channels' webhooks; without Telegram (and its JobQueue)
    the scheduled sweeps run on a loop of their own."""
    stop = asyncio.Event()
    with _stopped_by_signals(stop):
        # Jobs an earlier process left running are stopped and their owners told.
        await stop_at_start(core, one_process=settings.sqlite_path() is not None)
        channels = [watch_jobs(core, stop)]
        # The upload page for imports from a channel that cannot send files (bot/zalo/upload.py).
        routes: list[BaseRoute] = list(upload.routes(core))
        if settings.zalo_configured():
            from bot.zalo import runner
            from bot.zalo.inbox import ZaloInbox

            if not settings.public_url:
                log.warning(
                    "Zalo without DVK_PUBLIC_URL: files, charts and the upload page cannot "
                    "reach Zalo users (docs/zalo.md, 'Media and links')"
                )

            inbox = ZaloInbox(core)
            if settings.zalo_webhook():
                assert settings.zalo_webhook_secret is not None
                routes.append(inbox.route(settings.zalo_webhook_secret.get_secret_value()))
            channels.append(runner.serve(settings, core, stop, inbox=inbox))
        if telegram:
            channels.append(serve(settings, core, sock=sock, stop=stop, routes=routes))
        else:
            channels.append(
                schedules.run_sweeps(core, stop, interval=settings.sweep_interval_seconds)
            )
            if sock is not None:
                media = channels_of(core).media
                app = http.make_app(routes, media=media, monitor=monitor_routes(core, settings))
                channels.append(http.serve_until(app, sock, stop))
        # What is loaded now lives as long as the process: out of the collector's full passes.
        log.info("%d objects kept out of garbage collection", freeze_startup())
        tasks = [asyncio.create_task(channel) for channel in channels]
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        finally:
            stop.set()
            results = await asyncio.gather(*tasks, return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result
