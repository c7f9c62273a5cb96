"""Engine, sessions and the one unit of work every update runs in."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import DateTime, event
from sqlalchemy.engine import Connection, Dialect, make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, QueuePool
from sqlalchemy.types import TypeDecorator
from sqlalchemy.util import await_only


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in and out; SQLite hands back naive ones, so they are tagged here."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# How long a write waits for another connection's write lock (SQLite) or a row or table lock
# (PostgreSQL) before the unit of work gives up; the person is then asked to try again.
DEFAULT_BUSY_TIMEOUT = 10.0
# Connections a process keeps open, opened only as they are needed (DVK_DB_POOL_SIZE). Ten more
# may open for a burst beyond it, each closed again as soon as it is returned: on PostgreSQL a
# server process started and ended for every unit of work of the burst. SQLAlchemy's default,
# 5, did that whenever more than five units of work were open at once (the core's four steps,
# the outbox, the inbox, a job), and sixteen at once ran at half the speed of a pool that kept
# them (docs/benchmarks.md, "Steps").
DEFAULT_POOL_SIZE = 20
# Connections of `Database.read()` carry this execution option: they never write.
READ_ONLY = "dvk_read_only"


def _sqlite_connect(busy_timeout: float):  # type: ignore[no-untyped-def]
    def connect(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        # SQLAlchemy's recipe for (aio)sqlite: the driver emits no BEGIN of its own, so a
        # SAVEPOINT can never open (and its RELEASE commit) a transaction of its own; the
        # "begin" listener below starts every transaction explicitly.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout * 1000)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        # What is deleted (a forgotten person's name and phone) is overwritten in the file, not
        # left in its free pages (Decree 13/2023: deleted means deleted).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    return connect


class _Writers:
    """SQLite's write lock, taken in this process in the order asked (one engine's connections).

    SQLite itself does not queue writers: one that finds the lock taken sleeps and tries again
    (1 ms, 2, 5 … then 100 ms at a time) until its busy timeout, and whoever tries at the right
    moment wins. Under a stream of writes (a flood being recorded) an unlucky writer lost for
    more than a second while others kept winning. Here the connections of one engine wait
    for the lock in turn, in an asyncio lock (first come, first served): SQLite's own wait is
    left for other processes (`dvk import` beside `dvk run`). A connection holds it from its
    BEGIN IMMEDIATE until it goes back to the pool (or is detached or closed), its commit or
    rollback done. A writer that waited the busy timeout for the others of its process is
    answered busy, as SQLite would have; one that got its turn then waits up to the busy timeout
    again for another process (`dvk import`) in SQLite's own wait. One engine serves one event
    loop: the lock belongs to the loop it was first waited on in (every command and test makes
    its own engine)."""

    HELD = "dvk_sqlite_writer"

    def __init__(self, busy_timeout: float) -> None:
        self.busy_timeout = busy_timeout
        self.lock = asyncio.Lock()

    def begin(self, connection: Connection) -> None:
        # A unit of work that may write takes the write lock when it begins (waiting up to the
        # busy timeout). A deferred transaction that reads first and writes later fails at once,
        # without waiting, when another connection wrote in between (SQLITE_BUSY_SNAPSHOT in
        # WAL mode). Readers take no lock, so they never hold up the writers.
        if connection.get_execution_options().get(READ_ONLY, False):
            connection.exec_driver_sql("BEGIN DEFERRED")
            return
        if not connection.info.get(self.HELD):
            try:
                await_only(asyncio.wait_for(self.lock.acquire(), self.busy_timeout))
            except TimeoutError:
                locked = sqlite3.OperationalError("database is locked")
                raise OperationalError("BEGIN IMMEDIATE", None, locked) from None
            connection.info[self.HELD] = asyncio.get_running_loop()
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    def release(self, _dbapi: object, record: ConnectionPoolEntry, *_: object) -> None:
        """The connection went back to the pool (or was detached or closed): its transaction is
        over. A connection dropped without being returned is detached by the garbage collector,
        which may run on another thread: the lock is then given back in its loop."""
        loop = record.info.pop(self.HELD, None)
        if loop is None:
            return
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            self.lock.release()
        elif not loop.is_closed():
            loop.call_soon_threadsafe(self.lock.release)


def make_engine(
    url: str,
    *,
    busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
    pool_size: int = DEFAULT_POOL_SIZE,
    **kwargs: object,
) -> AsyncEngine:
    parsed = make_url(url)
    dialect: Any = parsed.get_dialect()  # the pool create_engine will choose for this URL
    pooled = issubclass(dialect.get_pool_class(parsed), QueuePool)
    if parsed.get_backend_name() == "sqlite" and pooled and parsed.database:
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    if pooled and "poolclass" not in kwargs:  # not in-memory SQLite (one connection)
        kwargs.setdefault("pool_size", pool_size)
    if url.startswith("postgresql+asyncpg"):
        settings = {"lock_timeout": str(int(busy_timeout * 1000))}
        kwargs.setdefault("connect_args", {"server_settings": settings})
    # A failed statement's error, logged with its traceback, must not carry the values it was
    # writing: people's names, phone numbers and message texts (Decree 13/2023).
    kwargs.setdefault("hide_parameters", True)
    engine = create_async_engine(url, **kwargs)
    if engine.dialect.name == "sqlite":
        writers = _Writers(busy_timeout)
        event.listen(engine.sync_engine, "connect", _sqlite_connect(busy_timeout))
        event.listen(engine.sync_engine, "begin", writers.begin)
        for returned in ("checkin", "invalidate", "soft_invalidate", "close", "detach"):
            event.listen(engine.sync_engine.pool, returned, writers.release)
    return engine


def is_busy(error: BaseException) -> bool:
    """The database was too busy to take this write in time: nothing of it was kept, and the
    same action can simply be tried again."""
    if not isinstance(error, DBAPIError):
        return False
    message = str(error.orig).lower()
    # SQLite: "database is locked" / "database table is locked"; PostgreSQL: lock_timeout
    # (LockNotAvailableError, SQLSTATE 55P03).
    return (
        "database is locked" in message
        or "database table is locked" in message
        or getattr(error.orig, "sqlstate", None) == "55P03"
        or "lock timeout" in message
        or "locknotavailable" in type(error.orig).__name__.lower()
    )


class Database:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        readers = engine.execution_options(**{READ_ONLY: True, "postgresql_readonly": True})
        self.readers = async_sessionmaker(readers, expire_on_commit=False)

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        busy_timeout: float = DEFAULT_BUSY_TIMEOUT,
        pool_size: int = DEFAULT_POOL_SIZE,
    ) -> Database:
        return cls(make_engine(url, busy_timeout=busy_timeout, pool_size=pool_size))

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """The unit of work: commits when the block succeeds, rolls back when it raises."""
        async with self.sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A unit of work that only reads (statistics, exports, digests' figures): it holds no
        write lock while it runs, so long reads never make writers wait; PostgreSQL refuses a
        write in it."""
        async with self.readers() as session:
            try:
                yield session
            finally:
                await session.rollback()

    async def dispose(self) -> None:
        await self.engine.dispose()
