"""One `dvk run` per SQLite file: SQLite serves one bot process (its write lock, the inbox
worker, the scheduler and the outbox pacing are all per process), so a second `dvk run` on the
same file is refused. The guard is an exclusive advisory lock (flock) on a file beside the
database, held for the process's life: the kernel drops it when the process ends, however it
ends (SIGKILL too), so a crash never leaves a stale lock behind. Only `dvk run` takes it;
`dvk chat`, `import`, `export` and `stats` open the database beside a running bot. PostgreSQL
is never locked this way."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_SUFFIX = ".run-lock"


class AlreadyServed(Exception):
    """Another process holds the lock of this database; `holder` is its pid when it wrote one."""

    def __init__(self, database: Path, holder: str) -> None:
        super().__init__(str(database))
        self.database = database
        self.holder = holder


def lock_path(database: Path) -> Path:
    return database.with_name(database.name + LOCK_SUFFIX)


@contextmanager
def serving(database: Path | None) -> Iterator[None]:
    """Hold the run lock of the SQLite file `database` (None: a server database, nothing to
    hold) until the block ends; raises AlreadyServed at once when another process holds it.
    The lock file stays: removing it would let a third process lock a file nobody else sees."""
    if database is None:
        yield
        return
    path = lock_path(database)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)  # not inherited by child processes
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
            raise AlreadyServed(database, holder) from None
        # Who holds it, for the message the next one gets (and for an admin reading the file).
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # closing the last descriptor releases the lock
