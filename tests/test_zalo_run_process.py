"""The real `dvk run` process with only DVK_ZALO_TOKEN set, polling the fake Zalo Bot API over
HTTP: a person writes and is answered, SIGTERM stops it cleanly, and its output never shows the
token."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from language.texts import Texts
from storage.db import Database
from tests.fakezalo import TOKEN, FakeZalo, served

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT = 20.0
STEP_TIMEOUT = 10.0
T = Texts("vi")


def zalo_environ(database_url: str, api_url: str) -> dict[str, str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DVK_")}
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        environ.pop(proxy, None)
    environ.update(
        PYTHONPATH=str(ROOT),
        PYTHONUNBUFFERED="1",
        NO_PROXY="127.0.0.1,localhost",
        DVK_ZALO_TOKEN=TOKEN,
        DVK_ZALO_API_URL=api_url,
        DVK_DATABASE_URL=database_url,
    )
    return environ


def run_dvk(database_url: str, cwd: Path) -> tuple[int, list[str], list[str], str]:
    """`dvk run` against the fake, one message, SIGTERM: (exit code, the bot's texts to the
    person, the API methods called, the process's output)."""
    zalo = FakeZalo(hold_idle=1.0)  # an idle poll is held, as the real one is
    log_path = cwd / "dvk-run.log"
    with served(zalo) as api, log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=cwd,  # no .env there
            env=zalo_environ(database_url, api.url),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        try:
            api.wait_for(lambda: "getUpdates" in api.methods, STARTUP_TIMEOUT, "polling")
            api.queue_text("u1", "/start")
            api.wait_for(lambda: "sendMessage" in api.methods, STEP_TIMEOUT, "the answer")
            process.send_signal(signal.SIGTERM)
            process.wait(15)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(5)
        with api.changed:
            methods = list(api.methods)
    output = log_path.read_text(errors="replace")
    print(output)  # shown by pytest when the test fails
    return process.returncode, zalo.texts("u1"), methods, output


async def test_dvk_run_serves_zalo_alone_and_stops_on_sigterm(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    # `db`: on PostgreSQL the shared database is emptied first, as for every test that writes.
    returncode, texts, methods, output = await asyncio.to_thread(run_dvk, database_url, tmp_path)
    assert returncode == 0
    assert texts and texts[0].startswith(T("start-no-invite")[:30])
    assert methods[:2] == ["getMe", "deleteWebhook"]
    assert TOKEN not in output and TOKEN.split(":")[1] not in output
    assert "Traceback" not in output
