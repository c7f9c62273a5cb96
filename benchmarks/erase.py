"""One /xoadulieu on a province's data: how long the erasure's unit of work takes, since it
searches every JSON and free-text column of every table for the name and the phone.

The province of benchmarks/stats.py (90 units, 7,000 people and models, 84,000 reports), plus
the rows an erasure must search through: 100,000 outbox messages and 100,000 audit entries
with details, 1% of them naming the person.

    python -m benchmarks.erase [--database-url URL]

Without --database-url the data goes into a temporary SQLite file; with a PostgreSQL URL the
database's public schema is dropped and rebuilt, so give it a database of its own.
The last line is `db=... erase_s=... rows_changed=...` (erase_s: the erasure of one person
who has a model and 12 reports, committed, the best of --repeat runs on fresh copies of the
person's rows).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

from sqlalchemy import insert, text, update

from benchmarks.stats import NOW, generate
from storage.db import Database, make_engine
from storage.migrate import upgrade
from storage.models import AuditEntry, Member, OutboxMessage
from storage.retention import erase_person, scrub

ROWS = 100_000
NAME, PHONE = "Người 1", "0912345678"


async def prepare(db: Database) -> None:
    if db.engine.dialect.name == "postgresql":
        async with db.engine.begin() as conn:
            await conn.execute(text("DROP SCHEMA public CASCADE"))
            await conn.execute(text("CREATE SCHEMA public"))
    await upgrade(db.engine)
    await generate(db, "province")
    async with db.session() as session:
        await session.execute(update(Member).where(Member.id == 1).values(phone=PHONE))
        for start in range(0, ROWS, 5_000):
            said = [
                f"{NAME} ({PHONE}) xin tham gia" if n % 100 == 0 else f"Tin nhắn số {n}"
                for n in range(start, start + 5_000)
            ]
            await session.execute(
                insert(OutboxMessage),
                [
                    {
                        "key": f"bench:{start + n}",
                        "member_id": 2 + (start + n) % 1_000,
                        "payload": {"text": text_},
                        "status": "sent",
                        "not_before": NOW,
                        "created_at": NOW,
                    }
                    for n, text_ in enumerate(said)
                ],
            )
            await session.execute(
                insert(AuditEntry),
                [{"at": NOW, "action": "bench", "details": {"note": text_}} for text_ in said],
            )


async def measure(url: str, repeat: int) -> dict[str, str]:
    db = Database.from_url(url)
    await prepare(db)
    best, changed = float("inf"), 0
    try:
        for _ in range(repeat):
            started = time.perf_counter()
            async with db.session() as session:
                await erase_person(session, member_id=1, now=NOW, left="thành viên đã rời")
            best = min(best, time.perf_counter() - started)
            # The next run finds the name again where it was.
            async with db.session() as session:
                await session.execute(
                    update(Member).where(Member.id == 1).values(full_name=NAME, phone=PHONE)
                )
                changed = await scrub(
                    session, words=["thành viên đã rời"], replacement=f"{NAME} ({PHONE})"
                )
    finally:
        await db.dispose()
    return {"erase_s": f"{best:.3f}", "rows_changed": str(changed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.sqlite3'}"
        figures = asyncio.run(measure(url, args.repeat))
    db = make_engine(url).dialect.name
    print(f"db={db} erase_s={figures['erase_s']} rows_changed={figures['rows_changed']}")


if __name__ == "__main__":
    main()
