"""`/healthz` and `/metrics` on the project's HTTP server (bot/http.py). `/healthz` answers 200
when the process and the database answer (503 when the database does not, within
HEALTH_TIMEOUT); `/metrics` gives Prometheus' text (bot/ops/metrics.py) only to a request made
on this machine (the loopback address, not forwarded by a proxy) or one carrying
`Authorization: Bearer <DVK_METRICS_TOKEN>`; anyone else gets 403."""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import logging

from prometheus_client import CONTENT_TYPE_LATEST
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from bot.ops.metrics import metrics_of
from handlers.core.router import Core
from storage.db import Database

log = logging.getLogger(__name__)
HEALTH_TIMEOUT = 3.0
# A reverse proxy on the same machine connects from the loopback address too: what it forwards
# carries one of these, and is judged as the remote request it is.
FORWARDED = ("forwarded", "x-forwarded-for", "x-real-ip")


async def database_answers(db: Database) -> bool:
    try:
        async with asyncio.timeout(HEALTH_TIMEOUT), db.read() as session:
            await session.execute(text("SELECT 1"))
    except Exception as error:  # whatever the driver raises, the answer is "no"
        log.warning("health check: the database does not answer: %r", error)
        return False
    return True


def from_this_machine(request: Request) -> bool:
    if request.client is None or any(name in request.headers for name in FORWARDED):
        return False
    try:
        return ipaddress.ip_address(request.client.host).is_loopback
    except ValueError:
        return False


def token_matches(request: Request, token: str | None) -> bool:
    if not token:
        return False
    given = request.headers.get("authorization", "")
    return hmac.compare_digest(given.encode(), f"Bearer {token}".encode())


def routes(core: Core, metrics_token: str | None = None) -> list[BaseRoute]:
    metrics = metrics_of(core)

    async def healthz(request: Request) -> Response:
        if await database_answers(core.db):
            return PlainTextResponse("ok")
        return PlainTextResponse("database unavailable", status_code=503)

    async def prometheus(request: Request) -> Response:
        if not (from_this_machine(request) or token_matches(request, metrics_token)):
            return PlainTextResponse("forbidden", status_code=403)
        return Response(await metrics.exposition(), media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/metrics", prometheus, methods=["GET"]),
    ]
