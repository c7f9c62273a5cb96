"""Replicas: two `dvk run` processes on one PostgreSQL database, as behind a reverse proxy.

Starts two real `dvk run` (child processes, webhook mode, a port each, the same environment)
against a local Bot API (benchmarks/fakeserver.py) and posts updates to them as Telegram and a
proxy would: `--people` people each send `--messages` commands one after another (the next once
the webhook answered 200), delivered alternately to the two processes, every `--twice`-th also
to the other one (a redelivery: it must be recorded once). A delivery a process cannot take (it
is down) goes to the other, as the proxy's failover does. Meanwhile the first process is stopped
with SIGTERM and started again, later the second with SIGKILL and started again. Beside them,
`--nudged` people left a registration unfinished two days ago: the scheduler (one leader for
both processes) nudges each once.

Each command is one the bot does not know (`/b17`), so its answer names it: the answers the Bot
API accepted say which update was handled, how often and in which order. Prints a last line

    updates=… handled_twice=… out_of_order=… lost=… reminders_duplicated=…

updates: accepted (recorded, answered 200); handled_twice: answers beyond the first for one
update; out_of_order: a person's answers that came after an answer to a later update of theirs;
lost: accepted updates never answered (within `--timeout` after the last delivery);
reminders_duplicated: nudges beyond the first for one person. All but `updates` should be 0.

    python -m benchmarks.replicas --database-url postgresql+asyncpg://USER:PASSWORD@HOST/DB
                                  [--people 20] [--messages 30] [--twice 7] [--nudged 20]

The database is migrated and gets the run's people (their ids are new each run): use a
scratch database. SQLite is refused: it serves one `dvk run` only.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import signal
import subprocess
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from sqlalchemy import insert, select

from benchmarks import fairness
from benchmarks.fairness import HEADER, free_port, say, until_serving, update
from benchmarks.fakeserver import FloodLimitedBotApi
from language.texts import Texts
from storage.db import Database
from storage.inbox import InboxUpdate
from storage.migrate import upgrade
from storage.models import Conversation, Identity, Member

SECRET = "replicas-benchmark-secret"
ANSWER = re.compile(r"/b(\d+)\b")
# A person's messages a second apart (as they type; well under the flood rule's 20 in 10
# seconds): 20 people make 20 updates a second for the two processes.
SPACING = 1.0


def start_bot(url: str, api_port: int, port: int, log: Path) -> subprocess.Popen[bytes]:
    """One replica, its log appended to across restarts; the sweeps often, so that both
    processes' timers run while the benchmark does, and no quiet hours in its way."""
    return fairness.start_bot(
        url,
        api_port,
        port,
        log,
        secret=SECRET,
        extra={"DVK_SWEEP_INTERVAL_SECONDS": "2", "DVK_QUIET_HOURS": "03:00-03:01"},
        mode="ab",
    )


async def leave_forms(url: str, base: int, count: int) -> list[int]:
    """`count` people with a registration left unfinished two days ago: a nudge is due."""
    db = Database.from_url(url)
    await upgrade(db.engine)
    now = datetime.now(UTC)
    chats = [base + n for n in range(count)]
    async with db.session() as session:
        ids = (
            await session.scalars(
                insert(Member).returning(Member.id, sort_by_parameter_order=True),
                [{"full_name": f"Người thử {chat}", "created_at": now} for chat in chats],
            )
        ).all()
        await session.execute(
            insert(Identity),
            [
                {
                    "member_id": member_id,
                    "channel": "telegram",
                    "external_id": str(chat),
                    "chat_id": str(chat),
                    "created_at": now,
                }
                for member_id, chat in zip(ids, chats, strict=True)
            ],
        )
        await session.execute(
            insert(Conversation),
            [
                {
                    "member_id": member_id,
                    "form": "register",
                    "state": {},
                    "context": {},
                    "version": 1,
                    "paused": False,
                    "expires_at": now + timedelta(days=5),
                    "updated_at": now - timedelta(days=2),
                    "started_at": now - timedelta(days=2),
                }
                for member_id in ids
            ],
        )
    await db.dispose()
    return chats


async def inbox_of(url: str, run: int, numbers: list[int]) -> list[tuple[str, int]]:
    """(status, attempts) of the inbox rows of these commands: an update handled, whose answer
    was on its way when its process was killed, reads ("handled", 1)."""
    db = Database.from_url(url)
    async with db.read() as session:
        rows = await session.execute(
            select(InboxUpdate.status, InboxUpdate.attempts).where(
                InboxUpdate.channel == "telegram",
                InboxUpdate.message_id.in_([str(run * 100_000 + n) for n in numbers]),
            )
        )
        found = [(status, attempts) for status, attempts in rows.all()]
    await db.dispose()
    return found


class Replicas:
    """The two processes, their ports and clients, and their restarts."""

    def __init__(self, url: str, api_port: int, workdir: Path) -> None:
        self.url, self.api_port, self.workdir = url, api_port, workdir
        self.ports = [free_port(), free_port()]
        self.logs = [workdir / "dvk-run-a.log", workdir / "dvk-run-b.log"]
        self.bots: list[subprocess.Popen[bytes]] = []
        self.clients = [
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30)
            for port in self.ports
        ]
        self.exits: list[int | None] = []

    async def start(self, which: int) -> None:
        bot = start_bot(self.url, self.api_port, self.ports[which], self.logs[which])
        if which < len(self.bots):
            self.bots[which] = bot
        else:
            self.bots.append(bot)
        await until_serving(self.clients[which], bot, self.logs[which])

    async def stop(self, which: int, how: signal.Signals) -> None:
        bot = self.bots[which]
        bot.send_signal(how)
        self.exits.append(await asyncio.to_thread(bot.wait))
        say(f"process {'ab'[which]} stopped by {how.name}: exit {bot.returncode}")

    async def deliver(self, body: dict[str, object], first: int) -> None:
        """Until one process took it (200): the chosen one, else the other (the proxy's
        failover), again after a pause while neither can."""
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            for which in (first, 1 - first):
                try:
                    response = await self.clients[which].post(
                        "/telegram", json=body, headers={HEADER: SECRET}
                    )
                except httpx.TransportError:
                    continue
                if response.status_code == 200:
                    return
            await asyncio.sleep(0.2)
        raise SystemExit("no process took an update for a minute")

    async def close(self) -> None:
        for bot in self.bots:
            if bot.poll() is None:
                bot.terminate()
        for bot in self.bots:
            try:
                bot.wait(timeout=30)
            except subprocess.TimeoutExpired:
                bot.kill()
        for client in self.clients:
            await client.aclose()


async def person(
    replicas: Replicas, who: int, numbers: list[int], twice: int, turn: list[int], ids: int
) -> list[int]:
    """One person's commands, one after another; returns the numbers accepted, in order. The
    update ids start at `ids`."""
    accepted = []
    for number in numbers:
        body = update(ids + number, who, f"/b{number}")
        first = turn[0] % 2
        turn[0] += 1
        await replicas.deliver(body, first)
        accepted.append(number)
        if number % twice == 0:
            await replicas.deliver(body, 1 - first)  # the same update again, to the other
        await asyncio.sleep(SPACING)
    return accepted


async def restarts(replicas: Replicas, duration: float) -> None:
    """SIGTERM to the first process a quarter in, SIGKILL to the second past half; each is
    started again at once."""
    await asyncio.sleep(duration * 0.25)
    await replicas.stop(0, signal.SIGTERM)
    await replicas.start(0)
    await asyncio.sleep(duration * 0.3)
    await replicas.stop(1, signal.SIGKILL)
    await replicas.start(1)


def answers(api: FloodLimitedBotApi, chat: int) -> list[int]:
    accepted, _ = api.snapshot()
    found = []
    for _, to, text in accepted:
        match = ANSWER.search(text) if to == chat else None
        if match:
            found.append(int(match.group(1)))
    return found


async def measure(args: argparse.Namespace, url: str, workdir: Path) -> None:
    run = int(time.time() * 1000) % 1_000_000_000
    base = run * 1000  # update ids and people new each run: a reused database records anew
    nudged = await leave_forms(url, base + 500, args.nudged)
    people = [base + n for n in range(args.people)]
    numbers = {
        who: [n * args.people + i for n in range(args.messages)] for i, who in enumerate(people)
    }
    api = FloodLimitedBotApi(limit=10_000).start()
    replicas = Replicas(url, api.port, workdir)
    nudge = Texts("vi")("nudge", title="").split("«")[0]
    try:
        await asyncio.gather(replicas.start(0), replicas.start(1))
        say(f"two dvk run on ports {replicas.ports}; {args.people} people × {args.messages}")
        turn = [0]
        duration = args.messages * SPACING
        started = time.monotonic()
        sent, _ = await asyncio.gather(
            asyncio.gather(
                *(
                    person(replicas, who, numbers[who], args.twice, turn, run * 100_000)
                    for who in people
                )
            ),
            restarts(replicas, duration),
        )
        say(f"delivered in {time.monotonic() - started:.1f} s; waiting for the answers")
        accepted = dict(zip(people, sent, strict=True))
        deadline = time.monotonic() + args.timeout
        while time.monotonic() < deadline:
            done = all(set(answers(api, who)) >= set(accepted[who]) for who in people)
            texts = [text for _, to, text in api.snapshot()[0] if int(to) in nudged]
            if done and len([t for t in texts if t.startswith(nudge)]) >= len(nudged):
                break
            await asyncio.sleep(0.25)
    finally:
        await replicas.close()
        api.stop()
    updates = twice = out_of_order = lost = 0
    unanswered: list[int] = []
    for who in people:
        got = answers(api, who)
        counts = Counter(got)
        updates += len(accepted[who])
        twice += sum(count - 1 for count in counts.values())
        unanswered += sorted(set(accepted[who]) - set(counts))
        lost += len(set(accepted[who]) - set(counts))
        highest, late = -1, 0
        for number in dict.fromkeys(got):  # first answers, in the order they were sent
            late += number < highest
            highest = max(highest, number)
        if late:
            say(f"person {who}: answers in the order {got}")
        out_of_order += late
    nudges = Counter(
        int(to) for _, to, text in api.snapshot()[0] if int(to) in nudged and text.startswith(nudge)
    )
    duplicated = sum(count - 1 for count in nudges.values())
    say(f"nudged {len(nudges)} of {len(nudged)}; exits {replicas.exits}")
    if unanswered:
        say(f"unanswered: {unanswered}; in the inbox: {await inbox_of(url, run, unanswered)}")
    if lost or twice or out_of_order or len(nudges) < len(nudged):
        for log in replicas.logs:
            say(f"--- {log}")
            say(log.read_text(encoding="utf-8", errors="replace")[-3000:])
    print(
        f"updates={updates} handled_twice={twice} out_of_order={out_of_order} lost={lost} "
        f"reminders_duplicated={duplicated}",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True, help="a scratch PostgreSQL database")
    parser.add_argument("--people", type=int, default=20)
    parser.add_argument("--messages", type=int, default=30, help="each person's")
    parser.add_argument("--twice", type=int, default=7, help="every n-th update sent twice")
    parser.add_argument("--nudged", type=int, default=20, help="people due a nudge")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds to wait at the end")
    args = parser.parse_args()
    if args.database_url.startswith("sqlite"):
        raise SystemExit("SQLite serves one dvk run: give a PostgreSQL --database-url")
    with tempfile.TemporaryDirectory(prefix="dvk-replicas-") as scratch:
        asyncio.run(measure(args, args.database_url, Path(scratch)))


if __name__ == "__main__":
    main()
