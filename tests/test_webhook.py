"""Webhook mode: the real Application behind PTB's webhook server only handles updates that carry
the secret token; and `dvk run` refuses to start without a usable token, or with a webhook
but no secret."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select
from telegram.request import RequestData

from bot.config import Settings
from bot.telegram_channel import build_application
from bot.texts import Texts
from handlers.dispatcher import Core
from storage import models
from storage.db import Database
from tests.botapi import RecordingRequest
from tests.conftest import TOKEN

ROOT = Path(__file__).resolve().parent.parent
SECRET = "s3cret-token"
WEBHOOK_URL = "https://example.invalid/telegram"
HEADER = "X-Telegram-Bot-Api-Secret-Token"
USER_ID = 555
T = Texts("vi")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}/telegram"
    app = build_application(hook_settings, core, request=api)
    await app.initialize()
    try:
        await app.updater.start_webhook(
            listen="127.0.0.1",
            port=port,
            url_path="telegram",
            webhook_url=WEBHOOK_URL,
            secret_token=SECRET,
        )
        await app.start()
        set_webhook = [c for c in api.calls if c.method == "setWebhook"]
        assert set_webhook and set_webhook[-1].params["url"] == WEBHOOK_URL
        assert set_webhook[-1].params["secret_token"] == SECRET

        async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
            # (a) no secret header
            response = await client.post(endpoint, json=start_update(1))
            assert response.status_code == 403
            assert app.update_queue.empty()
            assert sent_to_user(api) == []
            assert await identities(db) == []

            # (b) a wrong secret
            response = await client.post(endpoint, json=start_update(2), headers={HEADER: "nope"})
            assert response.status_code == 403
            assert app.update_queue.empty()
            assert sent_to_user(api) == []
            assert await identities(db) == []

            # (c) the right secret
            response = await client.post(endpoint, json=start_update(3), headers={HEADER: SECRET})
            assert response.status_code == 200
            await asyncio.wait_for(answered.wait(), 10)
    finally:
        if app.updater.running:
            await app.updater.stop()
        if app.running:
            await app.stop()  # waits for the update being handled
        await app.shutdown()

    replies = sent_to_user(api)
    # Exactly one /start was handled: the refused ones were never queued.
    assert replies.count(T("start-no-invite")) == 1, replies
    assert T("ask-full-name") in replies[-1]
    assert await identities(db) == [("telegram", str(USER_ID))]


def test_run_passes_the_webhook_settings_to_ptb(
    settings: Settings, core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    from telegram.ext import Application

    from bot import telegram_channel

    seen: dict[str, Any] = {}

    def fake_run_webhook(self: Application, **kwargs: Any) -> None:
        seen.update(kwargs)

    def no_polling(self: Application, **kwargs: Any) -> None:
        raise AssertionError("polling started although a webhook URL is set")

    monkeypatch.setattr(Application, "run_webhook", fake_run_webhook)
    monkeypatch.setattr(Application, "run_polling", no_polling)
    hook_settings = settings.model_copy(
        update={
            "webhook_url": "https://bot.example.invalid/hooks/dvk",
            "webhook_secret": SecretStr(SECRET),
            "webhook_listen": "127.0.0.1",
            "webhook_port": 8088,
        }
    )
    telegram_channel.run(hook_settings, core)
    assert seen["listen"] == "127.0.0.1"
    assert seen["port"] == 8088
    assert seen["url_path"] == "hooks/dvk"
    assert seen["webhook_url"] == "https://bot.example.invalid/hooks/dvk"
    assert seen["secret_token"] == SECRET


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
        (None, "missing"),
        ("   ", "missing"),
        ("PUT-YOUR-TOKEN-HERE", "placeholder"),
        ("123456789:short", "placeholder"),
    ],
)
def test_dvk_run_refuses_a_missing_or_placeholder_token(
    tmp_path: Path, token: str | None, problem: str
) -> None:
    env = {} if token is None else {"DVK_TELEGRAM_TOKEN": token}
    done = dvk_run(tmp_path, **env)
    assert done.returncode == 2, done.stderr
    assert f"DVK_TELEGRAM_TOKEN is {problem}" in done.stderr
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
        ({"DVK_TIMEZONE": "Nowhere/Nope"}, "DVK_TIMEZONE: Value error, unknown time zone"),
        (
            {"DVK_WEBHOOK_URL": WEBHOOK_URL, "DVK_WEBHOOK_SECRET": "có dấu cách"},
            "DVK_WEBHOOK_SECRET: Value error, must be 1-256 characters",
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
