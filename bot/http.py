"""The project's own HTTP server: one Starlette app served by uvicorn inside the bot's event loop.
It carries the Telegram webhook, `/healthz` and `/metrics` (bot/ops/monitor.py) and, where
`DVK_PUBLIC_URL` is set, the signed media and download links (`/media/<token>`,
`/files/<token>`: bot/media_links.py) and the one-time upload page (`/upload/<token>`:
bot/zalo/upload.py). Channel routes use `read_body` and `secret_matches` so that a request is
judged before its body is read: an unauthenticated or oversized upload costs the bot nothing."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import socket
from collections.abc import Iterator, Sequence

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot import media_links
from bot.media_links import Media

# No update, webhook event or form a channel posts comes near this.
MAX_BODY = 1024 * 1024
# uvicorn waits this long for requests in flight at shutdown, then closes their connections.
GRACEFUL_SHUTDOWN_SECONDS = 5


class BodyTooLarge(Exception):
    """The request declared, or sent, more than the route accepts."""


async def read_body(request: Request, limit: int = MAX_BODY) -> bytes:
    """The request's body, read only when it fits: a larger Content-Length is refused before a
    byte is read, and a body without one (chunked) is counted while it streams."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise ValueError("Content-Length is not a number")
        if int(declared) > limit:
            raise BodyTooLarge
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise BodyTooLarge
    return bytes(body)


def secret_matches(request: Request, header: str, secret: str) -> bool:
    """Whether the request carries the secret in `header`, compared in constant time."""
    given = request.headers.get(header, "")
    return hmac.compare_digest(given.encode(), secret.encode())


def refusal(status: int) -> Response:
    """An answer to a request whose body was not (wholly) read: the connection is closed rather
    than kept open for the rest of an upload nobody will read."""
    return PlainTextResponse(str(status), status_code=status, headers={"Connection": "close"})


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


def make_app(
    routes: Sequence[BaseRoute] = (),
    *,
    media: Media | None = None,
    monitor: Sequence[BaseRoute] | None = None,
) -> Starlette:
    """The server's app: each channel brings its own routes; `/healthz` is always there, and
    the links to `media` where it has any (no directory is ever listed: only signed keys).
    `monitor`: the running bot's `/healthz` and `/metrics` (bot/ops/monitor.py); without it
    `/healthz` tells only that the process answers."""
    health = [Route("/healthz", healthz, methods=["GET"])] if monitor is None else list(monitor)
    return Starlette(routes=[*health, *routes, *media_links.routes(media)])


class Server(uvicorn.Server):
    """uvicorn's server without its own signal handling: SIGINT and SIGTERM are the bot's, which
    stops the server together with the Telegram application and the outbox sender."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def listen(host: str, port: int) -> socket.socket:
    """The listening socket, bound before anything else starts so that a port in use is reported
    at once (OSError) rather than after the bot has started."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return socket.create_server((host, port), family=family)


def make_server(app: Starlette) -> Server:
    config = uvicorn.Config(
        app,
        log_config=None,  # the bot's logging configuration applies
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )
    return Server(config)


async def serve_until(app: Starlette, sock: socket.socket, stop: asyncio.Event) -> None:
    """Serve `app` on `sock` until `stop` is set; requests in flight are finished first."""
    server = make_server(app)
    serving = asyncio.create_task(server.serve(sockets=[sock]), name="http-server")
    stopping = asyncio.create_task(stop.wait(), name="stop-signal")
    try:
        await asyncio.wait([serving, stopping], return_when=asyncio.FIRST_COMPLETED)
    finally:
        server.should_exit = True
        stopping.cancel()
        await serving
