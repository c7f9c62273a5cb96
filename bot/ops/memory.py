"""The garbage collector and a long-running bot.

CPython's collector looks at every tracked object in its full passes (generation 2), and a bot
with its modules, ORM mappers, texts and catalogues loaded holds well over a hundred thousand of
them: each full pass stopped the event loop for tens of milliseconds, and every update in flight
or arriving meanwhile waited that long (it was most of the steps benchmark's p99 on PostgreSQL;
docs/benchmarks.md). What is loaded at start-up lives as long as the process, so it is moved out
of the collector's sight once, before the first update (`gc.freeze`): the full passes then look
only at what the bot made since. Nothing is lost: frozen objects are never freed, and they were
never going to be."""

from __future__ import annotations

import gc


def freeze_startup() -> int:
    """Collect what start-up left over, then keep everything alive now out of the collector's
    passes. Returns how many objects that is. Call once, when the process is ready to serve."""
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
