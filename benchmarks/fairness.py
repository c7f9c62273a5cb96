"""Fairness: how long another person waits for an answer while someone floods the bot.

Starts the real `dvk run` (a child process, webhook mode) against a local Bot API
(benchmarks/fakeserver.py) and posts updates to the bot's own HTTP server as Telegram does: one
person sends `--flood` messages as fast as the webhook takes them, while another sends `/help`
once a second (`--other` times). The other person's latency is from the POST of their message to
the first message the Bot API accepted for their chat after it. Prints a last line

    flood=500 other_p99_ms=… answered_all=1

answered_all is 1 when every message of the other person was answered (within `--timeout`).
The flooder's answers (those handled before the flood rule stepped in, and its notice) are
printed above it.

    python -m benchmarks.fairness [--flood 500] [--other 20] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.fakeserver import FloodLimitedBotApi
from language.texts import Texts
from storage.db import Database
from storage.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "123456789:" + "A" * 35
SECRET = "fairness-benchmark-secret"
FLOODER, OTHER = 1_000_001, 2_000_002
HEADER = "X-Telegram-Bot-Api-Secret-Token"


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def update(number: int, person: int, text: str) -> dict[str, Any]:
    sender = {"id": person, "first_name": "Người thử"}
    message: dict[str, Any] = {
        "message_id": number,
        "date": int(time.time()),
        "chat": sender | {"type": "private"},
        "from": sender | {"is_bot": False},
        "text": text,
    }
    if text.startswith("/"):
        length = len(text.split()[0])
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    return {"update_id": number, "message": message}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_bot(
    url: str,
    api_port: int,
    port: int,
    log: Path,
    *,
    secret: str = SECRET,
    extra: dict[str, str] | None = None,
    mode: str = "wb",
) -> subprocess.Popen[bytes]:
    """`dvk run` as the systemd unit in docs/deploy.md runs it (one environment, a port each),
    against the fake Bot API on `api_port`; `extra` settings on top, the log appended to with
    `mode="ab"` (a process started again)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DVK_")}
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        environ.pop(proxy, None)
    environ.update(
        PYTHONPATH=str(ROOT),
        NO_PROXY="127.0.0.1,localhost",
        DVK_TELEGRAM_TOKEN=TOKEN,
        DVK_TELEGRAM_API_URL=f"http://127.0.0.1:{api_port}",
        DVK_DATABASE_URL=url,
        DVK_WEBHOOK_URL="https://bench.invalid/telegram",
        DVK_WEBHOOK_SECRET=secret,
        DVK_HTTP_LISTEN="127.0.0.1",
        DVK_HTTP_PORT=str(port),
        **(extra or {}),
    )
    with log.open(mode) as out:
        return subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=log.parent,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


async def until_serving(
    client: httpx.AsyncClient, bot: subprocess.Popen[bytes], log: Path | None = None
) -> None:
    """Until the webhook answers (a POST without the secret is refused once it is up). A bot
    that stopped first is reported with the end of its `log` (why it would not start)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if bot.poll() is not None:
            said = await asyncio.to_thread(log.read_text, "utf-8", "replace") if log else ""
            said = said[-2000:]
            raise SystemExit(f"{said}\ndvk run stopped (exit {bot.returncode}) before serving")
        try:
            if (await client.post("/telegram", json={})).status_code == 403:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise SystemExit("dvk run did not serve the webhook within a minute")


def replies_to(api: FloodLimitedBotApi, chat: int, after: float) -> list[tuple[float, str]]:
    accepted, _ = api.snapshot()
    return [(at, text) for at, to, text in accepted if to == chat and at > after]


async def flood(client: httpx.AsyncClient, base: int, count: int) -> float:
    started = time.monotonic()
    for n in range(count):
        response = await client.post(
            "/telegram",
            json=update(base + n, FLOODER, f"Tin nhắn chuyển tiếp số {n + 1}"),
            headers={HEADER: SECRET},
        )
        response.raise_for_status()
    return time.monotonic() - started


async def other(
    client: httpx.AsyncClient, api: FloodLimitedBotApi, base: int, count: int, patience: float
) -> list[float | None]:
    """The other person's latencies in seconds (None: not answered within `patience`)."""
    latencies: list[float | None] = []
    for n in range(count):
        sent = time.monotonic()
        response = await client.post(
            "/telegram", json=update(base + n, OTHER, "/help"), headers={HEADER: SECRET}
        )
        response.raise_for_status()
        latency = None
        while time.monotonic() - sent < patience:
            answers = replies_to(api, OTHER, sent)
            if answers:
                latency = answers[0][0] - sent
                break
            await asyncio.sleep(0.005)
        latencies.append(latency)
        await asyncio.sleep(max(0.0, sent + 1.0 - time.monotonic()))
    return latencies


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


async def measure(args: argparse.Namespace, url: str, workdir: Path) -> None:
    db = Database.from_url(url)
    await upgrade(db.engine)
    await db.dispose()
    api = FloodLimitedBotApi(limit=10_000).start()
    port = free_port()
    log = workdir / "dvk-run.log"
    bot = start_bot(url, api.port, port, log)
    # Update ids are unique per run, so a reused database records every one anew.
    base = int(time.time() * 1000) % 1_000_000_000 * 1000
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await until_serving(client, bot, log)
            say(f"dvk run serves on port {port}; flooding {args.flood}, other {args.other}")
            started = time.monotonic()
            flooding = asyncio.create_task(flood(client, base, args.flood))
            latencies = await other(client, api, base + args.flood, args.other, args.timeout)
            flood_s = await flooding
            # The flood's answers still on the way are given the same time to arrive.
            deadline = time.monotonic() + args.timeout
            notice = Texts("vi")("flood-too-fast")
            while time.monotonic() < deadline:
                flooder = [text for _, text in replies_to(api, FLOODER, started)]
                if notice in flooder:
                    break
                await asyncio.sleep(0.05)
    finally:
        bot.terminate()
        try:
            bot.wait(timeout=30)
        except subprocess.TimeoutExpired:
            bot.kill()
        api.stop()
    flooder = [text for _, text in replies_to(api, FLOODER, started)]
    answered = [latency for latency in latencies if latency is not None]
    say(
        f"flood posted in {flood_s:.2f} s; the flooder got {len(flooder)} messages "
        f"({flooder.count(notice)} notice); other: {len(answered)}/{len(latencies)} answered, "
        f"max {max(answered, default=0) * 1000:.0f} ms"
    )
    say("other's latencies (ms): " + " ".join(f"{x * 1000:.0f}" for x in answered))
    if len(answered) < len(latencies) or bot.returncode not in (0, -15):
        say(f"dvk run exited {bot.returncode}; its log: {log}")
        say(log.read_text(encoding="utf-8", errors="replace")[-3000:])
    other_p99 = p99(answered) * 1000 if answered else float("nan")
    print(
        f"flood={args.flood} other_p99_ms={other_p99:.0f} "
        f"answered_all={int(len(answered) == len(latencies))}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flood", type=int, default=500, help="the flooder's messages")
    parser.add_argument("--other", type=int, default=20, help="the other person's, one a second")
    parser.add_argument("--timeout", type=float, default=15.0, help="seconds to wait for a reply")
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dvk-fairness-") as scratch:
        workdir = Path(scratch)
        url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'fairness.sqlite3'}"
        asyncio.run(measure(args, url, workdir))


if __name__ == "__main__":
    main()
