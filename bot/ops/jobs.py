"""Background jobs cut short (handlers/core/jobs.py). When `dvk run` starts, the jobs an earlier
process left `running` are marked stopped and their owners told, through the outbox, that they
can run them again; after that, every minute, so are the jobs whose runner stopped beating (a
replica that died). With SQLite one `dvk run` serves the file, so at its start every job still
running was cut short, but a `dvk chat` beside it (the terminal's jobs) may be alive: those wait
for the minute's look like the others."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import timedelta

from handlers.core.jobs import stop_abandoned
from handlers.core.router import Core

log = logging.getLogger(__name__)
WATCH_SECONDS = 60
TERMINAL = "terminal"


async def stop_at_start(core: Core, *, one_process: bool) -> int:
    """At start-up: with one process (SQLite) whatever is running is a leftover, but the
    terminal's; with several (PostgreSQL) only what no replica has beaten for is."""
    if not one_process:
        return await stop_abandoned(core)
    return await stop_abandoned(core, silent_for=timedelta(0), keep_channel=TERMINAL)


async def watch_jobs(core: Core, stop: asyncio.Event) -> None:
    """Every minute until `stop`: the jobs whose runner went silent are stopped and told."""
    while not stop.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), WATCH_SECONDS)
        if stop.is_set():
            return
        try:
            await stop_abandoned(core)
        except Exception:
            log.exception("could not look for background jobs cut short")
