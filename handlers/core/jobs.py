"""Work that outlasts a reply (an import, an export, a chart, reminders to a whole unit). A
handler starts a `Job` with `start`: a row in the jobs table (storage/records/jobs.py) records
it, and the channel adapter shows `first` at once and runs the job in the background (other
updates go on being handled), passing it two callbacks: `progress(text, fraction)`, which the
adapter shows by editing that first message (throttled), and `deliver(messages)`, which sends
messages as a reply would (files among them). What the job has to say that must not be lost (an
import's outcome, a failure) goes through the outbox, in the job's own unit of work (`JobIO.tell`).
The job opens its own database sessions and checks the person's rights again when it runs. At
most `SLOTS` jobs run at once per process, so a few imports cannot take every connection."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncSession

from handlers.core.context import CoreConfig, Ctx
from handlers.core.notify import payload
from handlers.core.types import Choice, Outbound
from language import vn
from language.texts import Texts
from storage import outbox
from storage.db import Database
from storage.media import MediaStore
from storage.models import Member
from storage.records import jobs as records

if TYPE_CHECKING:
    from handlers.core.router import Core

log = logging.getLogger(__name__)

Progress = Callable[[str, float], Awaitable[None]]
Deliver = Callable[[list[Outbound]], Awaitable[None]]
# Jobs running at once in one process; the others wait for a place (their first message is
# shown meanwhile).
SLOTS = 2
# A running job's row is touched this often; one silent for `SILENT` lost its runner.
HEARTBEAT_SECONDS = 30
SILENT = timedelta(seconds=90)
# Like a reply: not held back by quiet hours (the person asked) nor by a quota's reserve.
PRIORITY = outbox.REPLY_LIKE

_slots: weakref.WeakKeyDictionary[Core, asyncio.Semaphore] = weakref.WeakKeyDictionary()


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
    # Its row in the jobs table and its owner (None: a job run outside the chat).
    job_id: int | None = None
    owner_id: int | None = None
    told: int = field(default=0)

    async def tell(
        self, session: AsyncSession, text: str, choices: list[list[Choice]] | None = None
    ) -> None:
        """A message to the owner through the outbox, in `session`'s unit of work: it goes out
        exactly when what the job wrote there is committed. Without a row, delivered now."""
        if self.job_id is None or self.owner_id is None:
            await self.deliver([Outbound(text, choices or [])])
            return
        self.told += 1
        now = self.clock()
        await outbox.enqueue(
            session,
            key=f"job:{self.job_id}:{self.told}",
            member_id=self.owner_id,
            payload=payload(text, choices),
            now=now,
            priority=PRIORITY,
        )

    async def admin_now(self, session: AsyncSession, member_id: int) -> bool:
        """The rights of the moment the job runs, not of the moment it was asked for: whether
        the person is an admin now; when not, they are told so (and the job goes no further)."""
        member = await session.get(Member, member_id)
        if member is not None and member.is_admin:
            return True
        await self.deliver([Outbound(self.t("error-not-allowed"))])
        return False

    async def done(self, session: AsyncSession, result: str) -> None:
        """The job's row settled as done in the job's own unit of work (with what it wrote)."""
        if self.job_id is not None:
            await records.finish_job(
                session, job_id=self.job_id, status=records.DONE, now=self.clock(), result=result
            )


@dataclass
class Job:
    # One job of a kind runs per person at a time; `busy` is said to a second request.
    key: str
    first: str
    busy: str
    run: Callable[[JobIO], Awaitable[None]]
    # Its row in the jobs table (`start` records it).
    id: int | None = None
    owner_id: int | None = None


async def start(ctx: Ctx, job: Job) -> bool:
    """Record the job and hand it to the channel to run after this update; refused with `busy`
    while the person's job of the same kind is still running (on any replica)."""
    if await records.running_job(ctx.session, kind=job.key, owner_id=ctx.member.id):
        ctx.result.say(job.busy)
        return False
    row = await records.begin_job(
        ctx.session,
        kind=job.key,
        owner_id=ctx.member.id,
        channel=ctx.inbound.channel,
        chat_id=ctx.inbound.chat_id,
        now=ctx.now,
    )
    job.id, job.owner_id = row.id, ctx.member.id
    ctx.result.jobs.append(job)
    return True


def slots(core: Core) -> asyncio.Semaphore:
    if core not in _slots:
        _slots[core] = asyncio.Semaphore(SLOTS)
    return _slots[core]


async def run_job(core: Core, job: Job, *, progress: Progress, deliver: Deliver) -> None:
    """Run a job to its end, recorded in its row. A failure is logged, the row marked failed
    and the person told through the outbox, never left hanging. A job cancelled (the process
    stops) stays `running` in its row: the next start marks it stopped (`stop_abandoned`)."""
    media = core.config.channels.media_store()
    beat = _Beat(progress)
    io = JobIO(core.db, core.config, core.texts, core.clock, beat.progress, deliver, media)
    io.job_id, io.owner_id = job.id, job.owner_id
    async with slots(core):
        core.observer.job_started()
        heart = asyncio.get_running_loop().create_task(_heartbeat(core, job, beat))
        try:
            await job.run(io)
        except Exception as error:
            log.exception("background job %s failed", job.key)
            await _failed(core, job, io, error)
        else:
            await _settle(core, job, records.DONE)
        finally:
            heart.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await heart
            core.observer.job_ended()


class _Beat:
    """How far the job got, as last shown; written to its row by the heartbeat. Not at each
    step: the job may hold a write transaction (an import), which on SQLite would make another
    write wait for it."""

    def __init__(self, shown: Progress) -> None:
        self.shown = shown
        self.percent = 0

    async def progress(self, text: str, fraction: float) -> None:
        self.percent = int(max(0.0, min(fraction, 1.0)) * 100)
        await self.shown(text, fraction)


async def _heartbeat(core: Core, job: Job, beat: _Beat) -> None:
    if job.id is None:
        return
    while True:
        await asyncio.sleep(HEARTBEAT_SECONDS)
        try:
            async with core.db.session() as session:
                await records.beat(session, job_id=job.id, now=core.clock(), progress=beat.percent)
        except Exception:
            log.warning("could not record that job %s is alive", job.id, exc_info=True)


async def _settle(core: Core, job: Job, status: str) -> None:
    if job.id is None:
        return
    try:
        async with core.db.session() as session:
            await records.finish_job(session, job_id=job.id, status=status, now=core.clock())
    except Exception:
        log.exception("could not record the end of job %s", job.id)


async def _failed(core: Core, job: Job, io: JobIO, error: Exception) -> None:
    text = core.texts("job-failed")
    try:
        if job.id is None:
            await io.deliver([Outbound(text)])
            return
        async with core.db.session() as session:
            if await records.finish_job(
                session,
                job_id=job.id,
                status=records.FAILED,
                now=core.clock(),
                result=type(error).__name__,
            ):
                await io.tell(session, text)
    except Exception:
        log.exception("could not tell the person that job %s failed", job.key)


async def stop_abandoned(
    core: Core, *, silent_for: timedelta = SILENT, keep_channel: str | None = None
) -> int:
    """Mark stopped the jobs still `running` whose runner has been silent for `silent_for` (a
    restart or a crash cut them short), but those of `keep_channel`, and tell each owner,
    through the outbox, that they can run it again. How many were stopped."""
    now = core.clock()
    local = now.astimezone(core.config.timezone)
    async with core.db.session() as session:
        stopped = await records.stop_abandoned(
            session, silent_since=now - silent_for, now=now, keep_channel=keep_channel
        )
        for row in stopped:
            kind = f"job-kind-{row.kind}"
            text = core.texts(
                "job-stopped",
                job=core.texts(kind) if core.texts.has(kind) else row.kind,
                time=vn.format_datetime(row.created_at, core.config.timezone),
            )
            await outbox.enqueue(
                session,
                key=f"job:{row.id}:stopped",
                member_id=row.owner_id,
                payload=payload(text),
                now=now,
                # Said on the bot's own (a restart), so not in the night.
                not_before=core.config.quiet_hours.next_allowed(local),
                priority=PRIORITY,
            )
    return len(stopped)


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
