"""Migrations are the only way the schema changes: they must build exactly the models' schema,
go down and up again, and seed the fields of activity — on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import select, text

from storage import seed
from storage.migrate import downgrade, pending, upgrade
from storage.models import Base, Field
from tests.conftest import PG_URL

HEAD = "0022"  # the newest migration


async def test_runs_on_the_configured_backend(db):
    assert db.engine.dialect.name == ("postgresql" if PG_URL else "sqlite")


async def test_migrations_match_the_models(db):
    def diff(connection):
        return compare_metadata(MigrationContext.configure(connection), Base.metadata)

    async with db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_fields_are_seeded(db):
    async with db.session() as session:
        names = (await session.scalars(select(Field.name).order_by(Field.position))).all()
    assert names == seed.FIELDS
    assert "Cải cách hành chính" in names and len(names) == 11


async def test_downgrade_and_upgrade_again(db):
    assert not await pending(db.engine)
    await downgrade(db.engine, "base")
    assert await pending(db.engine)
    async with db.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: c.dialect.get_table_names(c))
    assert set(tables) <= {"alembic_version"}
    await upgrade(db.engine)
    async with db.engine.connect() as conn:
        version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
        count = await conn.scalar(text("SELECT count(*) FROM fields"))
    assert version == HEAD and count == 11


async def test_connection_settings(db):
    async with db.engine.connect() as conn:
        if PG_URL:
            assert int(await conn.scalar(text("SHOW server_version_num"))) >= 130000
        else:
            assert (await conn.scalar(text("PRAGMA journal_mode"))) == "wal"
            assert (await conn.scalar(text("PRAGMA foreign_keys"))) == 1
            assert (await conn.scalar(text("PRAGMA secure_delete"))) == 1
