"""Several `dvk run` processes on one PostgreSQL database (docs/deploy.md, "Several replicas with
PostgreSQL"): a person's updates are handled by one process at a time (claims.py), one process
runs the scheduled sweeps (leader.py), and the send rate holds for all of them together
(rate.py), each through rows of the database (storage/replicas/leases.py). On SQLite there is
one `dvk run` (bot/ops/runlock.py), so none of this runs there."""

from __future__ import annotations

import os
import secrets
import socket

from storage.db import Database

# This process, as the holder of its leases: host, pid and a random part (a pid can come back).
REPLICA = f"{socket.gethostname()[:40]}:{os.getpid()}:{secrets.token_hex(4)}"


def shared(db: Database) -> bool:
    """Whether other processes may serve the same database (a server database: PostgreSQL)."""
    return db.engine.dialect.name != "sqlite"
