"""Work that outlasts a reply (an Excel export of the whole movement). A handler puts a `Job` in
`Result.jobs`; the channel adapter shows `first` at once, runs the job in the background (other
updates go on being handled) and passes it two callbacks: `progress(text, fraction)`, which the
adapter shows by editing that first message (throttled), and `deliver(messages)`, which sends
messages as a reply would. The job opens its own database sessions and checks the person's
rights again when it runs."""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from handlers.core.context import CoreConfig
from handlers.core.types import Outbound
from language.texts import Texts
from storage.db import Database
from storage.media import MediaStore

if TYPE_CHECKING:
    from handlers.core.router import Core

log = logging.getLogger(__name__)

Progress = Callable[[str, float], Awaitable[None]]
Deliver = Callable[[list[Outbound]], Awaitable[None]]


@dataclass
class JobIO:
    db: Database
    config: CoreConfig
    t: Texts
    clock: Callable[[], datetime]
    progress: Progress
    deliver: Deliver
    # The media store, for a job that reads the photos people sent (None: there is none).
    media: MediaStore | None = None


@dataclass
class Job:
    # One job of a kind runs per person at a time; `busy` is said to a second request.
    key: str
    first: str
    busy: str
    run: Callable[[JobIO], Awaitable[None]]


async def run_job(core: Core, job: Job, *, progress: Progress, deliver: Deliver) -> None:
    """Run a job to its end. A failure is logged and the person told, never left hanging."""
    media = core.config.channels.media_store()
    io = JobIO(core.db, core.config, core.texts, core.clock, progress, deliver, media)
    core.observer.job_started()
    try:
        await job.run(io)
    except Exception:
        log.exception("background job %s failed", job.key)
        try:
            await deliver([Outbound(core.texts("job-failed"))])
        except Exception:
            log.exception("could not tell the person that job %s failed", job.key)
    finally:
        core.observer.job_ended()


class Throttle:
    """Whether a progress update is worth showing: 10 % more done, or `every` seconds since the
    last one shown; the end always is. Keeps a chat from being flooded with edits."""

    def __init__(
        self, *, step: float = 0.1, every: float = 2.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.step = step
        self.every = every
        self.clock = clock
        self.shown = 0.0
        self.at = clock()

    def due(self, fraction: float) -> bool:
        now = self.clock()
        if fraction >= 1 or fraction - self.shown >= self.step or now - self.at >= self.every:
            self.shown, self.at = fraction, now
            return True
        return False
