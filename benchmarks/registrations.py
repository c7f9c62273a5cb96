"""How many complete registrations per second the core handles on one database.

Drives the channel-neutral core (the same code the Telegram adapter calls) for N people, each
joining through an invite and registering one model with two targets, one event at a time as
python-telegram-bot would deliver them. Prints a last line of key=value pairs.

    python -m benchmarks.registrations --people 200 [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Settings
from bot.demo import seed
from bot.runtime import build_core
from handlers.core.types import Inbound
from storage.db import Database
from storage.migrate import upgrade

ANSWERS = [
    "Tên Người Thử",
    None,  # category: the third option
    "/boqua",
    "/dangky",
    None,  # kind: individual
    "Mô hình chuyển đổi số số {n}",
    None,  # field
    "Số hóa hồ sơ và giải quyết thủ tục trực tuyến",
    "Mọi hồ sơ được giải quyết đúng hạn",
    "hồ sơ trực tuyến",
    "hồ sơ",
    "1.061",
    None,  # more: yes
    "tiền vận động",
    "đồng",
    "50.000.000 đồng",
    None,  # more: no
    "01/12/2026",
    "31/12/2027",
    None,  # confirm
]
PRESS = {1: 2, 4: 1, 6: 8, 12: 0, 16: 1, 19: 0}  # step -> index of the button to press


async def one_person(core, n: int) -> float:
    person = f"bench-{n}"
    started = time.perf_counter()
    result = await core.handle(Inbound("terminal", person, person, text="/start DEMO-TV"))
    # The personal-data notice comes first: agreeing to it opens the join form.
    agree = result.messages[-1].choices[0][0].data
    result = await core.handle(Inbound("terminal", person, person, choice=agree))
    for step, answer in enumerate(ANSWERS):
        if step in PRESS:
            choices = [c for row in result.messages[-1].choices for c in row]
            inbound = Inbound("terminal", person, person, choice=choices[PRESS[step]].data)
        else:
            inbound = Inbound("terminal", person, person, text=answer.format(n=n))
        result = await core.handle(inbound)
    if not result.messages[0].text.startswith("✅ Đã gửi đăng ký"):
        raise SystemExit(f"registration {n} did not complete: {result.messages[0].text[:200]}")
    return time.perf_counter() - started


async def main(people: int, url: str | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        url = url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        db = Database.from_url(url)
        await upgrade(db.engine)
        now = datetime(2026, 11, 26, 2, tzinfo=UTC)
        async with db.session() as session:
            await seed(session, now=now, today=now.date())
        core = build_core(Settings(_env_file=None, database_url=url), db, lambda: now)
        started = time.perf_counter()
        durations = sorted([await one_person(core, n) for n in range(people)])
        elapsed = time.perf_counter() - started
        await db.dispose()
    events = people * (len(ANSWERS) + 2)
    p95 = durations[int(0.95 * (len(durations) - 1))] / (len(ANSWERS) + 2) * 1000
    print(
        f"db={url.split(':', 1)[0]} people={people} events={events} seconds={elapsed:.2f} "
        f"events_per_s={events / elapsed:.0f} registrations_per_s={people / elapsed:.1f} "
        f"p95_event_ms={p95:.1f}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    asyncio.run(main(args.people, args.database_url))
