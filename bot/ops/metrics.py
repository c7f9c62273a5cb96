"""The process's metrics in Prometheus' format, with prometheus-client: each core gets a
registry of its own (never the library's global one), so a process has one and a test can
build several. Counted as the work goes: updates handled by channel and their latency, form
steps by form, the outbox sender's 429s by channel, jobs running. Read from the database when
scraped: outbox messages by channel and status, in one grouped query kept for a few seconds,
so a scraper every second costs the database one query in `OUTBOX_CACHE_SECONDS`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from handlers.core.observe import Observer
from handlers.core.router import Core
from storage.db import Database
from storage.linking import outbox_by_channel
from storage.outbox import FAILED, PENDING, SENT

OUTBOX_CACHE_SECONDS = 10.0
# From a reply read from the cache (a few ms) to an import that ran in the update (seconds).
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Shown for every channel the outbox has messages for, 0 when there are none.
OUTBOX_STATUSES = (PENDING, SENT, FAILED)


class Metrics(Observer):
    def __init__(self, db: Database, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.db = db
        self.clock = clock
        self.registry = CollectorRegistry()
        r = self.registry
        self.updates = Counter(
            "dvk_updates_handled", "Updates handled, by channel", ["channel"], registry=r
        )
        self.latency = Histogram(
            "dvk_update_seconds",
            "Time to handle an update (its unit of work), by channel",
            ["channel"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.steps = Counter(
            "dvk_form_steps", "Answers that moved a form on, by form", ["form"], registry=r
        )
        self.rate_limited = Counter(
            "dvk_rate_limited",
            "Times a platform answered the outbox sender 'too many requests' (429), by channel",
            ["channel"],
            registry=r,
        )
        self.jobs = Gauge("dvk_jobs_running", "Background jobs running now", registry=r)
        self._outbox: dict[tuple[str, str], int] = {}
        self._outbox_at: float | None = None
        self._outbox_lock = asyncio.Lock()
        r.register(_OutboxCollector(self))

    # --- told by the core (handlers/core/observe.py) and the sender ----------------------------

    def update_handled(self, channel: str, seconds: float, form_steps: Sequence[str]) -> None:
        self.updates.labels(channel).inc()
        self.latency.labels(channel).observe(seconds)
        for form in form_steps:
            self.steps.labels(form).inc()

    def job_started(self) -> None:
        self.jobs.inc()

    def job_ended(self) -> None:
        self.jobs.dec()

    def counting_429s(self, channel: str) -> Callable[[], None]:
        """What the outbox sender of `channel` calls at each 429 (bot/sender.py)."""
        return self.rate_limited.labels(channel).inc

    # --- read when scraped ---------------------------------------------------------------------

    async def exposition(self) -> bytes:
        """Everything, in Prometheus' text format; the outbox read from the database at most
        once in OUTBOX_CACHE_SECONDS (concurrent scrapes wait for the one reading)."""
        async with self._outbox_lock:
            now = self.clock()
            if self._outbox_at is None or now - self._outbox_at >= OUTBOX_CACHE_SECONDS:
                async with self.db.read() as session:
                    self._outbox = await outbox_by_channel(session)
                self._outbox_at = now
        return generate_latest(self.registry)


class _OutboxCollector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "dvk_outbox_messages",
            'Outbox messages by status and by the channel they go to ("": a person who never '
            "wrote to the bot), as the database had them at most "
            f"{OUTBOX_CACHE_SECONDS:g} s ago",
            labels=["channel", "status"],
        )
        counts = dict(self.metrics._outbox)
        for channel in {channel for channel, _ in counts}:
            for status in OUTBOX_STATUSES:
                counts.setdefault((channel, status), 0)
        for (channel, status), count in sorted(counts.items()):
            family.add_metric([channel, status], count)
        yield family


def metrics_of(core: Core) -> Metrics:
    """The metrics of the process `core` serves, counting from the first time they are asked
    for when the core was built without them (bot/runtime.py builds it with them)."""
    if not isinstance(core.observer, Metrics):
        core.observer = Metrics(core.db)
    return core.observer
