"""Fan-out: how fast, and how exactly, the outbox sender delivers 10.000 reminders.

Queues one reminder for each of N people (a member with a Telegram identity), starts a local Bot
API that lets through at most `--limit` messages in any sliding second (429 retry-after-1 beyond),
and runs the sender in a child process through the real python-telegram-bot `Bot` and
`telegram_transport`, paced at the limit. With `--kill` the child gets a signal half-way (TERM: a
graceful stop; KILL: a crash) and a new child carries on until every message is settled.

Counted from what the server accepted:
- sent: distinct (chat, text); duplicates: accepted beyond the first of each; lost: queued and
  never accepted;
- rate_ratio: sent / active time / limit. Active time is, for each child, the time from the first
  to the last message the server accepted while that child ran (between its start and the next
  child's start), summed: the restart itself is left out, everything else (flood pauses, batch
  turnarounds, database writes, waiting for a crashed child's lease) counts.

    python -m benchmarks.fanout [--channel telegram|zalo] [--people 10000] [--limit 300]
                                [--kill] [--kill-signal TERM|KILL]
                                [--database-url URL] [--concurrency 4] [--batch 300]
                                [--lease 10] [--settle-delay 0.02] [--start-ahead 0.02]
                                [--profile PATH]

With `--channel zalo` the people have Zalo identities, the server is a local Zalo Bot API
(benchmarks/fakezalo_server.py: Zalo's 429 names no wait, and the sender then pauses for ten
minutes) and the child sends through the real `ZaloApi` and `zalo_transport`. The limit is
DVK_ZALO_SEND_RATE (default 5 a second), read as the bot reads it, and 1,000 people by default.
The outbox's options become lines naming a command there, so a message is counted by its first
line.

The people and their reminders are inserted in bulk (setup, not measured). Use a scratch
database with --database-url: it is migrated and gets N more people. --profile runs each sender
child under cProfile (sort the file with pstats).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from benchmarks.fakeserver import FloodLimitedBotApi
from benchmarks.fakezalo_server import FloodLimitedZaloApi
from bot.sender import Sender
from storage.db import Database
from storage.migrate import upgrade
from storage.models import Identity, Member, OutboxMessage

TOKEN = "123456789:" + "A" * 35
ZALO_TOKEN = "1234567890:zalo-benchmark-token"
CHOICES = [[{"label": "Báo cáo ngay", "data": "rp:now"}, {"label": "Để sau", "data": "rp:later"}]]


def zalo_send_rate() -> float:
    """DVK_ZALO_SEND_RATE as the bot reads it (the environment, then .env; default 5)."""
    from bot.config import Settings

    return Settings().zalo_send_rate


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def text_of(run: str, i: int) -> str:
    return f"Nhắc báo cáo tiến độ tháng 11/2026 của mô hình số {i} ({run})"


async def queue_reminders(url: str, run: str, people: int, channel: str) -> list[tuple[str, str]]:
    db = Database.from_url(url)
    await upgrade(db.engine)
    now = datetime.now(UTC)
    expected = [(str(100_000_000 + i), text_of(run, i)) for i in range(people)]
    async with db.session() as session:
        ids = (
            await session.scalars(
                insert(Member).returning(Member.id, sort_by_parameter_order=True),
                [{"full_name": f"Người thử {i}", "created_at": now} for i in range(people)],
            )
        ).all()
        await session.execute(
            insert(Identity),
            [
                {
                    "member_id": member_id,
                    "channel": channel,
                    "external_id": f"{run}-{chat}",
                    "chat_id": chat,
                    "created_at": now,
                }
                for member_id, (chat, _) in zip(ids, expected, strict=True)
            ],
        )
        await session.execute(
            insert(OutboxMessage),
            [
                {
                    "key": f"fanout:{run}:{i}",
                    "member_id": member_id,
                    "payload": {"text": text, "choices": CHOICES},
                    "status": "pending",
                    "attempts": 0,
                    "not_before": now,
                    "created_at": now,
                }
                for i, (member_id, (_, text)) in enumerate(zip(ids, expected, strict=True))
            ],
        )
    await db.dispose()
    return expected


async def statuses(db: Database, run: str) -> dict[str, int]:
    async with db.session() as session:
        rows = await session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.key.like(f"fanout:{run}:%"))
            .group_by(OutboxMessage.status)
        )
        return {status: count for status, count in rows.all()}


async def unsettled(db: Database, run: str) -> int:
    async with db.session() as session:
        return await session.scalar(
            select(func.count()).where(
                OutboxMessage.status.in_(("pending", "sending")),
                OutboxMessage.key.like(f"fanout:{run}:%"),
            )
        )


def statuses_at(url: str, run: str) -> dict[str, int]:
    async def read() -> dict[str, int]:
        db = Database.from_url(url)
        try:
            return await statuses(db, run)
        finally:
            await db.dispose()

    return asyncio.run(read())


# --- the child: one sender process ------------------------------------------------------------


def telegram_sender(args: argparse.Namespace, db: Database) -> tuple[Sender, Any]:
    from telegram import Bot
    from telegram.request import HTTPXRequest

    from bot.telegram.delivery import telegram_transport

    request = HTTPXRequest(connection_pool_size=args.concurrency + 2)
    bot = Bot(TOKEN, base_url=f"http://127.0.0.1:{args.port}/bot", request=request)
    sender = Sender(
        db,
        telegram_transport(bot),
        channel="telegram",
        rate=args.limit,
        concurrency=args.concurrency,
        batch=args.batch,
        lease=timedelta(seconds=args.lease),
        settle_delay=args.settle_delay,
        start_ahead=args.start_ahead,
    )
    return sender, bot


def zalo_sender(args: argparse.Namespace, db: Database) -> tuple[Sender, Any]:
    """The sender as `dvk run` builds it for Zalo: the channel's rates from the settings."""
    import httpx

    from bot.channels import zalo
    from bot.config import Settings
    from bot.zalo.api import ZaloApi
    from bot.zalo.delivery import zalo_transport

    settings = Settings(_env_file=None, zalo_send_rate=args.limit)  # type: ignore[call-arg]
    limits = httpx.Limits(max_connections=args.concurrency + 2)
    api = ZaloApi(
        ZALO_TOKEN,
        api_url=f"http://127.0.0.1:{args.port}",
        client=httpx.AsyncClient(limits=limits, timeout=40.0, trust_env=False),
    )
    sender = Sender.for_channel(
        db,
        zalo(settings),
        zalo_transport(api),
        concurrency=args.concurrency,
        batch=args.batch,
        lease=timedelta(seconds=args.lease),
        settle_delay=args.settle_delay,
        start_ahead=args.start_ahead,
    )
    return sender, api


async def work(args: argparse.Namespace) -> None:
    db = Database.from_url(args.database_url)
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    make = zalo_sender if args.channel == "zalo" else telegram_sender
    sender, client = make(args, db)

    async def stop_when_done() -> None:
        while not stop.is_set():
            await asyncio.sleep(1.0)
            if not await unsettled(db, args.run):
                stop.set()

    started = time.monotonic()
    if args.channel == "telegram":
        await client.initialize()
    try:
        watcher = asyncio.create_task(stop_when_done())
        await sender.run(stop)
        watcher.cancel()
    finally:
        await (client.shutdown() if args.channel == "telegram" else client.close())
    await db.dispose()
    elapsed, cpu = time.monotonic() - started, time.process_time()
    say(f"  worker: stopped after {elapsed:.1f} s, {cpu:.1f} s CPU")


# --- the parent: data, server, children, counting ----------------------------------------------


def spawn(args: argparse.Namespace, url: str, run: str, port: int) -> subprocess.Popen[bytes]:
    profile = ["-m", "cProfile", "-o", args.profile] if args.profile else []
    command = [sys.executable, *profile, "-m", "benchmarks.fanout", "--worker"]
    command += ["--channel", args.channel]
    command += ["--database-url", url]
    command += ["--run", run, "--port", str(port), "--limit", str(args.limit)]
    command += ["--concurrency", str(args.concurrency), "--batch", str(args.batch)]
    command += ["--lease", str(args.lease), "--settle-delay", str(args.settle_delay)]
    command += ["--start-ahead", str(args.start_ahead)]
    return subprocess.Popen(command)


def active_time(times: list[float], starts: list[float]) -> float:
    """Sum over children of first-to-last accepted message while each one ran."""
    total = 0.0
    for k, start in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else float("inf")
        own = [t for t in times if start <= t < end]
        if own:
            total += own[-1] - own[0]
    return total


def orchestrate(args: argparse.Namespace, url: str) -> None:
    run = uuid.uuid4().hex[:8]
    say(f"queueing {args.people} reminders ...")
    expected = asyncio.run(queue_reminders(url, run, args.people, args.channel))
    server_class = FloodLimitedZaloApi if args.channel == "zalo" else FloodLimitedBotApi
    server = server_class(args.limit).start()
    starts = [time.monotonic()]
    child = spawn(args, url, run, server.port)
    killed = False
    last_count, last_time = 0, time.monotonic()
    while True:
        try:
            code = child.wait(timeout=0.05)
        except subprocess.TimeoutExpired:
            code = None
        count, flooded = server.counts()
        now = time.monotonic()
        if now - last_time >= 1.0 or code is not None:
            pace = (count - last_count) / (now - last_time)
            say(f"  {count:>6} accepted, {pace:6.1f}/s, {flooded} answered 429")
            last_count, last_time = count, now
        if code is None and args.kill and not killed and count >= args.people // 2:
            say(f"  sending SIG{args.kill_signal} to the sender at {count} accepted")
            child.send_signal(getattr(signal, f"SIG{args.kill_signal}"))
            killed = True
            continue
        if code is None:
            continue
        left = statuses_at(url, run)
        if code not in (0, -signal.SIGKILL, -signal.SIGTERM):
            raise SystemExit(f"the sender exited with {code}")
        if not left.get("pending") and not left.get("sending"):
            break
        say(f"  sender exited ({code}); left {left}; starting a new one")
        starts.append(time.monotonic())
        child = spawn(args, url, run, server.port)
    server.stop()
    accepted, flooded = server.snapshot()
    say(f"  outbox: {statuses_at(url, run)}; 429 answers: {flooded}")

    # Where options became lines (Zalo), the reminder's own text is its first line.
    counts = Counter((str(chat), text.split("\n", 1)[0]) for _, chat, text in accepted)
    sent = len(counts)
    duplicates = len(accepted) - sent
    lost = len(set(expected) - set(counts))
    span = active_time([t for t, _, _ in accepted], starts)
    ratio = sent / span / args.limit if span > 0 else 0.0
    say(f"  active {span:.2f} s over {len(starts)} sender process(es)")
    print(f"sent={sent} duplicates={duplicates} lost={lost} rate_ratio={ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--channel", choices=["telegram", "zalo"], default="telegram")
    parser.add_argument("--people", type=int, help="default 10,000 (Zalo: 1,000)")
    parser.add_argument("--limit", type=float, help="default 300 (Zalo: DVK_ZALO_SEND_RATE)")
    parser.add_argument("--kill", action="store_true")
    parser.add_argument("--kill-signal", choices=["TERM", "KILL"], default="TERM")
    parser.add_argument("--database-url")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--batch", type=int, default=300)
    parser.add_argument("--lease", type=float, default=10.0, help="seconds")
    parser.add_argument("--settle-delay", type=float, default=0.02, help="seconds")
    parser.add_argument("--start-ahead", type=float, default=0.02, help="seconds")
    parser.add_argument("--profile", metavar="PATH", help="cProfile the sender into PATH")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--run", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.people is None:
        args.people = 1_000 if args.channel == "zalo" else 10_000
    if args.limit is None:
        args.limit = zalo_send_rate() if args.channel == "zalo" else 300.0
    if args.worker:
        asyncio.run(work(args))
        return
    if args.database_url:
        orchestrate(args, args.database_url)
        return
    with tempfile.TemporaryDirectory() as tmp:
        orchestrate(args, f"sqlite+aiosqlite:///{Path(tmp) / 'fanout.sqlite3'}")


if __name__ == "__main__":
    main()
