"""Alembic environment. `storage.migrate` passes an open connection in, so migrations also run
inside a running event loop; otherwise the URL comes from Alembic's `config.attributes["url"]`
when the command line passes it, else from `DVK_DATABASE_URL` (storage knows nothing above it)."""

from __future__ import annotations

import asyncio
import os

from alembic import context
from sqlalchemy.engine import Connection

from storage.db import make_engine
from storage.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def _url() -> str:
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    url = url or os.environ.get("DVK_DATABASE_URL")
    if not url:
        raise SystemExit("Set DVK_DATABASE_URL to the database to migrate.")
    return url


async def _run_async() -> None:
    engine = make_engine(_url())
    async with engine.begin() as connection:
        await connection.run_sync(_configure)
    await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
    else:
        asyncio.run(_run_async())
