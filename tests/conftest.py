"""Fixtures: a migrated database per test (SQLite by default, PostgreSQL when
DVK_TEST_DATABASE_URL points at one), a controllable clock, and the real Telegram
`Application` wired to a recording Bot API."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from bot.config import Settings
from bot.runtime import build_core
from storage import seed
from storage.db import Database, make_engine
from storage.migrate import upgrade
from storage.models import Base
from tests.botapi import ChatClient, RecordingRequest

PG_URL = os.environ.get("DVK_TEST_DATABASE_URL", "")
TOKEN = "123456789:" + "A" * 35
ADMIN_ID = 1000


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


def pytest_report_header(config: pytest.Config) -> str:
    return f"database: {'postgresql' if PG_URL else 'sqlite'}"


async def _reset_postgres(url: str) -> None:
    engine = make_engine(url)
    async with engine.begin() as conn:
        await conn.execute(text("DROP SCHEMA public CASCADE"))
        await conn.execute(text("CREATE SCHEMA public"))
    await upgrade(engine)
    await engine.dispose()


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> str:
    """Migrate once per run: a template SQLite file to copy, or the PostgreSQL schema."""
    if PG_URL:
        asyncio.run(_reset_postgres(PG_URL))
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite+aiosqlite:///{path}")
    asyncio.run(upgrade(engine))
    asyncio.run(engine.dispose())
    return str(path)


async def _truncate_postgres(db: Database) -> None:
    tables = [t.name for t in Base.metadata.sorted_tables]
    async with db.engine.begin() as conn:
        await conn.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
        await seed.insert_fields(conn)


@pytest.fixture
def database_url(migrated_template: str, tmp_path: Path) -> str:
    if PG_URL:
        return PG_URL
    target = tmp_path / "dvk.sqlite3"
    shutil.copy(migrated_template, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database.from_url(database_url)
    if PG_URL:
        await _truncate_postgres(database)
    yield database
    await database.dispose()


@pytest.fixture
def clock() -> Clock:
    # 09:00 in Hà Nội on a Thursday.
    return Clock(datetime(2026, 11, 26, 2, 0, tzinfo=UTC))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        _env_file=None,
        telegram_token=TOKEN,
        database_url=database_url,
        admin_ids=[ADMIN_ID],
        media_dir=tmp_path / "media",
        # The outbox sender runs on the test clock; replies keep nearly all of Telegram's rate
        # in python-telegram-bot's real rate limiter, which paces them in real time.
        send_rate=1,
    )


@pytest.fixture
def core(settings: Settings, db: Database, clock: Clock):  # type: ignore[no-untyped-def]
    return build_core(settings, db, clock)


@pytest.fixture
def api() -> RecordingRequest:
    return RecordingRequest()


@pytest.fixture
async def app(settings: Settings, core, api: RecordingRequest) -> AsyncIterator:  # type: ignore[no-untyped-def]
    from bot.telegram.app import build_application, post_init

    application = build_application(settings, core, request=api)
    # The outbox sender paces itself on the core's clock; here its waits move the test clock.

    async def sleep(seconds: float) -> None:
        core.clock.advance(seconds=seconds)

    application.bot_data["sleep"] = sleep
    await application.initialize()
    await post_init(application)
    yield application
    await application.shutdown()


@pytest.fixture
def chat(app, api: RecordingRequest) -> Iterator:  # type: ignore[no-untyped-def]
    """Factory: chat(user_id, name) -> ChatClient."""

    def make(user_id: int, first_name: str = "Người dùng") -> ChatClient:
        return ChatClient(app, api, user_id, first_name)

    yield make


async def make_coordinator(db: Database, *, unit_id: int, telegram_id: int, now: datetime) -> None:
    """A Telegram user who coordinates a unit, set up directly in the database."""
    from storage.records.people import add_membership, get_or_create_identity

    async with db.session() as session:
        identity = await get_or_create_identity(
            session,
            channel="telegram",
            external_id=str(telegram_id),
            chat_id=str(telegram_id),
            display_name=None,
            now=now,
        )
        await add_membership(
            session, member_id=identity.member_id, unit_id=unit_id, role="coordinator", now=now
        )


async def handle_agreeing(core, inbound):  # type: ignore[no-untyped-def]
    """`core.handle`, and where the answer is the personal-data notice, «Đồng ý» pressed (or
    typed, where options are numbered): the answer after agreeing, as most people see it."""
    import dataclasses

    result = await core.handle(inbound)
    for message in result.messages:
        for choice in (c for row in message.choices for c in row):
            if choice.data.startswith("cs:y:"):
                agree = dataclasses.replace(inbound, text=None, choice=choice.data)
                return await core.handle(agree)
    return result
