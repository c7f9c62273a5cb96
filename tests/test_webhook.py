"""Webhook mode: the project's HTTP server (bot/http.py) records in the inbox, for the real
Application, only updates that carry the secret token, and judges a request before reading its
body; and `dvk run` refuses to start without a usable token, or with a webhook but no secret."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from starlette.applications import Starlette
from telegram.ext import Application
from telegram.request import RequestData

from bot.config import Settings
from bot.http import MAX_BODY, make_app
from bot.telegram.adapter import ALLOWED_UPDATES
from bot.telegram.app import build_application
from bot.telegram.inbox import TelegramInbox
from bot.telegram_run import open_webhook, serve, webhook_route
from handlers.core.router import Core
from language.texts import Texts
from storage import models
from storage.db import Database
from storage.inbox import InboxUpdate
from tests.botapi import RecordingRequest
from tests.conftest import TOKEN
from tests.fakebotapi import FakeBotApi, running

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cret-token"
WEBHOOK_URL = "https://example.invalid/telegram"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
USER_ID = 555
STEP_TIMEOUT = 10.0
T = Texts("vi")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def asgi_client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as client:
        yield client


def start_update(update_id: int) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": USER_ID, "type": "private", "first_name": "Năm"},
            "from": {"id": USER_ID, "is_bot": False, "first_name": "Năm"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    }


async def identities(db: Database) -> list[tuple[str, str]]:
    async with db.session() as session:
        rows = await session.execute(select(models.Identity.channel, models.Identity.external_id))
        return [tuple(row) for row in rows]


async def recorded(db: Database) -> list[InboxUpdate]:
    async with db.session() as session:
        return list((await session.scalars(select(InboxUpdate).order_by(InboxUpdate.id))).all())


def sent_to_user(api: RecordingRequest) -> list[str]:
    return [call.params["text"] for call in api.sent(USER_ID)]


async def test_webhook_handles_only_updates_with_the_secret_token(
    settings: Settings, core: Core, api: RecordingRequest, db: Database
) -> None:
    answered = asyncio.Event()
    do_request = api.do_request

    async def watching(
        url: str, method: str, request_data: RequestData | None = None, **kwargs: Any
    ) -> tuple[int, bytes]:
        result = await do_request(url, method, request_data, **kwargs)
        params = request_data.parameters if request_data else {}
        if url.endswith("/sendMessage") and int(params.get("chat_id", 0)) == USER_ID:
            answered.set()
        return result

    api.do_request = watching  # type: ignore[method-assign]
    hook_settings = settings.model_copy(
        update={"webhook_url": WEBHOOK_URL, "webhook_secret": SecretStr(SECRET)}
    )
    endpoint = "/telegram"
    app = build_application(hook_settings, core, request=api)
    await app.initialize()
    try:
        inbox = TelegramInbox(app)
        server = await open_webhook(inbox, hook_settings)
        await app.start()
        set_webhook = [c for c in api.calls if c.method == "setWebhook"]
        assert set_webhook and set_webhook[-1].params["url"] == WEBHOOK_URL
        assert set_webhook[-1].params["secret_token"] == SECRET

        async with asgi_client(server) as client:
            # (a) no secret header
            response = await client.post(endpoint, json=start_update(1))
            assert response.status_code == 403
            assert await recorded(db) == []
            assert sent_to_user(api) == []
            assert await identities(db) == []

            # (b) a wrong secret
            response = await client.post(endpoint, json=start_update(2), headers={HEADER: "nope"})
            assert response.status_code == 403
            assert await recorded(db) == []
            assert sent_to_user(api) == []
            assert await identities(db) == []

            # (c) the right secret
            response = await client.post(endpoint, json=start_update(3), headers={HEADER: SECRET})
            assert response.status_code == 200
            assert await inbox.worker().drain() == 1
            await asyncio.wait_for(answered.wait(), 10)
    finally:
        if app.running:
            await app.stop()  # waits for the update being handled
        await app.shutdown()

    replies = sent_to_user(api)
    # Exactly one /start was handled: the refused ones were never recorded.
    # (the personal-data notice, which greets first and is answered before the first question)
    assert sum(reply.startswith(T("consent-hello")) for reply in replies) == 1, replies
    assert not any(T("ask-full-name") in reply for reply in replies)
    assert await identities(db) == [("telegram", str(USER_ID))]


async def test_serve_listens_where_the_settings_say_and_stops_when_asked(
    settings: Settings, core: Core, db: Database
) -> None:
    """The whole webhook mode in this process, on a real port, against a fake Bot API over
    HTTP (the outbox sender's own Bot reaches it too)."""
    port = free_port()
    with running(FakeBotApi(token=TOKEN)) as fake:
        hook_settings = settings.model_copy(
            update={
                "telegram_api_url": fake.url,
                "webhook_url": "https://bot.example.invalid/hooks/dvk",
                "webhook_secret": SecretStr(SECRET),
                "http_listen": "127.0.0.1",
                "http_port": port,
            }
        )
        stop = asyncio.Event()
        serving = asyncio.create_task(serve(hook_settings, core, stop=stop))
        try:
            set_webhook = await asyncio.to_thread(
                fake.wait_for,
                lambda: [c for c in fake.calls if c.method == "setWebhook"],
                STEP_TIMEOUT,
                "setWebhook",
            )
            assert set_webhook[0].params["url"] == "https://bot.example.invalid/hooks/dvk"
            assert set_webhook[0].params["secret_token"] == SECRET
            assert set_webhook[0].params["allowed_updates"] == ALLOWED_UPDATES
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=STEP_TIMEOUT
            ) as client:
                health = await client.get("/healthz")
                assert (health.status_code, health.text) == (200, "ok")
                wrong_path = await client.post("/telegram", json=start_update(1))
                assert wrong_path.status_code == 404
                response = await client.post(
                    "/hooks/dvk", json=start_update(2), headers={HEADER: SECRET}
                )
                assert response.status_code == 200
            await asyncio.to_thread(
                fake.wait_for,
                lambda: [m for m in fake.sent if m["text"].startswith(T("consent-hello"))],
                STEP_TIMEOUT,
                "the answer to /start",
            )
        finally:
            stop.set()
            await asyncio.wait_for(serving, STEP_TIMEOUT)
        assert not fake.errors, fake.errors
    assert await identities(db) == [("telegram", str(USER_ID))]
    with socket.socket() as sock:  # the port is free again
        sock.bind(("127.0.0.1", port))


# --- what the webhook refuses, and that it refuses before reading ----------------------------


@pytest.fixture
def webhook(app: Application) -> Starlette:
    return make_app([webhook_route(TelegramInbox(app), path="/telegram", secret=SECRET)])


class Upload:
    """A request body streamed in 64 KiB chunks, counting what the server pulled of it."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.pulled = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunk = b"x" * 65536
        while self.pulled < self.total:
            self.pulled += len(chunk)
            yield chunk


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 403),
        ({HEADER: "nope"}, 403),
        ({HEADER: SECRET[:-1]}, 403),
        ({HEADER: SECRET}, 413),
    ],
)
async def test_webhook_refuses_a_large_declared_body_without_reading_it(
    webhook: Starlette, db: Database, headers: dict[str, str], status: int
) -> None:
    upload = Upload(95 * 1024 * 1024)
    async with asgi_client(webhook) as client:
        response = await client.post(
            "/telegram", content=upload, headers={**headers, "Content-Length": str(upload.total)}
        )
    assert response.status_code == status
    assert upload.pulled == 0
    assert response.headers["connection"] == "close"
    assert await recorded(db) == []


async def test_webhook_stops_reading_a_chunked_body_at_one_megabyte(
    webhook: Starlette, db: Database
) -> None:
    upload = Upload(8 * MAX_BODY)
    async with asgi_client(webhook) as client:
        response = await client.post("/telegram", content=upload, headers={HEADER: SECRET})
    assert response.status_code == 413
    assert MAX_BODY < upload.pulled <= MAX_BODY + 65536
    assert await recorded(db) == []


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[]",
        b'{"message": {"text": "/start"}}',
        b'{"update_id": "1"}',
        b'{"update_id": 1, "message": 5}',
        b'{"update_id": 1, "message": {"text": "/start"}}',
        b'{"update_id": 1, "callback_query": "x"}',
    ],
)
async def test_webhook_answers_400_to_a_body_that_is_not_an_update(
    webhook: Starlette, db: Database, api: RecordingRequest, body: bytes
) -> None:
    async with asgi_client(webhook) as client:
        response = await client.post("/telegram", content=body, headers={HEADER: SECRET})
    assert response.status_code == 400
    assert await recorded(db) == []
    assert api.sent(USER_ID) == []


async def test_webhook_records_an_update_within_the_limit(webhook: Starlette, db: Database) -> None:
    update = start_update(7)
    update["message"]["text"] = "/start " + "x" * (MAX_BODY - 1000)
    async with asgi_client(webhook) as client:
        response = await client.post("/telegram", json=update, headers={HEADER: SECRET})
        health = await client.get("/healthz")
    assert response.status_code == 200
    (row,) = await recorded(db)
    assert (row.channel, row.message_id, row.person) == ("telegram", "7", str(USER_ID))
    assert row.payload["message"]["text"].startswith("/start xxx")
    assert (health.status_code, health.text) == (200, "ok")


# --- `dvk run` refusing to start ------------------------------------------------------------


def dvk_run(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DVK_")}
    environ.update(
        PYTHONPATH=str(ROOT),
        DVK_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'run.sqlite3'}",
        **env,
    )
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        cwd=tmp_path,  # no .env there
        env=environ,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("token", "problem"),
    [
        (None, "Chưa đặt DVK_TELEGRAM_TOKEN"),
        ("   ", "Chưa đặt DVK_TELEGRAM_TOKEN"),
        ("PUT-YOUR-TOKEN-HERE", "DVK_TELEGRAM_TOKEN không phải token thật"),
        ("123456789:short", "DVK_TELEGRAM_TOKEN không phải token thật"),
    ],
)
def test_dvk_run_refuses_a_missing_or_placeholder_token(
    tmp_path: Path, token: str | None, problem: str
) -> None:
    env = {} if token is None else {"DVK_TELEGRAM_TOKEN": token}
    done = dvk_run(tmp_path, **env)
    assert done.returncode == 2, done.stderr
    assert problem in done.stderr  # said in the configured language (Vietnamese by default)
    assert not (tmp_path / "run.sqlite3").exists()  # refused before touching the database


@pytest.mark.parametrize("secret", [None, ""])
def test_dvk_run_refuses_a_webhook_without_secret(tmp_path: Path, secret: str | None) -> None:
    env = {"DVK_TELEGRAM_TOKEN": TOKEN, "DVK_WEBHOOK_URL": WEBHOOK_URL}
    if secret is not None:
        env["DVK_WEBHOOK_SECRET"] = secret
    done = dvk_run(tmp_path, **env)
    assert done.returncode == 2, done.stderr
    assert "DVK_WEBHOOK_SECRET" in done.stderr
    assert not (tmp_path / "run.sqlite3").exists()


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"DVK_TIMEZONE": "Nowhere/Nope"},
            "DVK_TIMEZONE: giá trị không hợp lệ (không có múi giờ «Nowhere/Nope»",
        ),
        (
            {"DVK_WEBHOOK_URL": WEBHOOK_URL, "DVK_WEBHOOK_SECRET": "có dấu cách"},
            "DVK_WEBHOOK_SECRET: giá trị không hợp lệ (cần 1–256 ký tự A-Z a-z 0-9 _ -",
        ),
        ({"DVK_ADMIN_IDS": "12,abc"}, "DVK_ADMIN_IDS"),
    ],
)
def test_dvk_run_refuses_bad_settings_with_a_message(
    tmp_path: Path, env: dict[str, str], message: str
) -> None:
    done = dvk_run(tmp_path, DVK_TELEGRAM_TOKEN=TOKEN, **env)
    assert done.returncode == 2, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "run.sqlite3").exists()


# --- `dvk run` in webhook mode, as a process ---------------------------------------------------


def status_line(port: int, head: str) -> str:
    """Send a request's head and no body; the status line the server answers with anyway."""
    with socket.create_connection(("127.0.0.1", port), timeout=STEP_TIMEOUT) as sock:
        sock.sendall(head.replace("\n", "\r\n").encode() + b"\r\n")
        answer = b""
        while b"\r\n" not in answer:
            part = sock.recv(1024)
            if not part:
                break
            answer += part
    return answer.split(b"\r\n", 1)[0].decode()


def test_dvk_run_webhook_judges_a_request_before_its_body(tmp_path: Path) -> None:
    """An upload the server will refuse is answered as soon as its head arrives: with no secret,
    or with a length over the limit, the bot waits for none of it (PTB's server read it all)."""
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DVK_")}
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        environ.pop(proxy, None)
    log_path = tmp_path / "dvk-run.log"
    with running(FakeBotApi(token=TOKEN)) as fake, log_path.open("wb") as log:
        environ.update(
            PYTHONPATH=str(ROOT),
            NO_PROXY="127.0.0.1,localhost",
            DVK_TELEGRAM_TOKEN=TOKEN,
            DVK_TELEGRAM_API_URL=fake.url,
            DVK_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'run.sqlite3'}",
            DVK_WEBHOOK_URL=WEBHOOK_URL,
            DVK_WEBHOOK_SECRET=SECRET,
            # The names these had before the server was the project's own still work.
            DVK_WEBHOOK_LISTEN="127.0.0.1",
            DVK_WEBHOOK_PORT=str(port),
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=tmp_path,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        try:
            fake.watch(process)
            fake.wait_for(lambda: "setWebhook" in [c.method for c in fake.calls], 20, "setWebhook")
            huge = 95 * 1024 * 1024
            head = f"POST /telegram HTTP/1.1\nHost: bot\nContent-Length: {huge}\n"
            assert status_line(port, head).startswith("HTTP/1.1 403")
            wrong = f"{head}{HEADER}: nope\n"
            assert status_line(port, wrong).startswith("HTTP/1.1 403")
            right = f"{head}{HEADER}: {SECRET}\n"
            assert status_line(port, right).startswith("HTTP/1.1 413")

            with httpx.Client(trust_env=False, timeout=STEP_TIMEOUT) as client:
                answer = client.post(
                    f"http://127.0.0.1:{port}/telegram",
                    json=start_update(1),
                    headers={HEADER: SECRET},
                )
            assert answer.status_code == 200
            fake.wait_for(
                lambda: [m for m in fake.sent if m["text"].startswith(T("consent-hello"))],
                STEP_TIMEOUT,
                "the answer to /start",
            )
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(5)
            print(log_path.read_text(errors="replace"))  # shown when the test fails
    assert process.returncode == 0  # SIGTERM stops the server and the bot cleanly
    assert not fake.errors, fake.errors
