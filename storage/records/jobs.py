"""Background jobs (an import, an export, a report, reminders to a unit), one row each: who asked,
where to tell them, how far it got and how it ended. The row is what survives the process: a job
still `running` whose runner stopped beating was cut short (a restart, a crash) and is marked
`stopped` so its owner can be told to run it again. Keyword-only; never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base

RUNNING = "running"
DONE = "done"
FAILED = "failed"
STOPPED = "stopped"
# What a row keeps of a job's result: a line, not the whole answer.
RESULT_CHARS = 500
_BULK = {"synchronize_session": False}


class BackgroundJob(Base):
    __tablename__ = "jobs"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The kind of work (import, export, photos, yearend, overdue): names it to its owner.
    kind: Mapped[str] = mapped_column(String(32))
    owner_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    # Where it was asked for: the chat its progress is shown in.
    channel: Mapped[str] = mapped_column(String(16))
    chat_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=RUNNING, index=True)
    # Percent done, as last shown.
    progress: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime]
    # The runner's heartbeat: refreshed while the job runs (handlers/core/jobs.py).
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    result: Mapped[str | None] = mapped_column(String(RESULT_CHARS))


async def begin_job(
    session: AsyncSession, *, kind: str, owner_id: int, channel: str, chat_id: str, now: datetime
) -> BackgroundJob:
    job = BackgroundJob(
        kind=kind,
        owner_id=owner_id,
        channel=channel,
        chat_id=chat_id,
        status=RUNNING,
        progress=0,
        created_at=now,
        updated_at=now,
    )
    session.add(job)
    await session.flush()
    return job


async def running_job(session: AsyncSession, *, kind: str, owner_id: int) -> BackgroundJob | None:
    """This person's job of this kind still under way, if any."""
    return await session.scalar(
        select(BackgroundJob)
        .where(
            BackgroundJob.kind == kind,
            BackgroundJob.owner_id == owner_id,
            BackgroundJob.status == RUNNING,
        )
        .limit(1)
    )


async def beat(
    session: AsyncSession, *, job_id: int, now: datetime, progress: int | None = None
) -> None:
    """The runner is alive (and, with `progress`, this far)."""
    values: dict[str, object] = {"updated_at": now}
    if progress is not None:
        values["progress"] = max(0, min(progress, 100))
    await session.execute(
        update(BackgroundJob)
        .where(BackgroundJob.id == job_id, BackgroundJob.status == RUNNING)
        .values(**values)
        .execution_options(**_BULK)
    )


async def finish_job(
    session: AsyncSession, *, job_id: int, status: str, now: datetime, result: str | None = None
) -> bool:
    """Settle a running job; False when it was settled already (stopped meanwhile, or finished
    by the job's own unit of work)."""
    values: dict[str, object] = {"status": status, "finished_at": now, "updated_at": now}
    if status == DONE:
        values["progress"] = 100
    if result is not None:
        values["result"] = result[:RESULT_CHARS]
    done = await session.execute(
        update(BackgroundJob)
        .where(BackgroundJob.id == job_id, BackgroundJob.status == RUNNING)
        .values(**values)
        .execution_options(**_BULK)
    )
    return bool(done.rowcount)  # type: ignore[attr-defined]


async def stop_abandoned(
    session: AsyncSession, *, silent_since: datetime, now: datetime, keep_channel: str | None = None
) -> Sequence[BackgroundJob]:
    """Mark `stopped` the running jobs whose runner has not beaten since `silent_since` (but
    those asked for on `keep_channel`); the rows marked (each by one caller only, however many
    replicas ask at once)."""
    silent = [BackgroundJob.status == RUNNING, BackgroundJob.updated_at < silent_since]
    if keep_channel is not None:
        silent.append(BackgroundJob.channel != keep_channel)
    stopped = await session.execute(
        update(BackgroundJob)
        .where(*silent)
        .values(status=STOPPED, finished_at=now, updated_at=now)
        .returning(BackgroundJob.id)
        .execution_options(**_BULK)
    )
    ids = [row[0] for row in stopped.all()]
    if not ids:
        return []
    found = await session.scalars(
        select(BackgroundJob).where(BackgroundJob.id.in_(ids)).order_by(BackgroundJob.id)
    )
    return found.all()


async def jobs_of(session: AsyncSession, *, owner_id: int) -> Sequence[BackgroundJob]:
    found = await session.scalars(
        select(BackgroundJob).where(BackgroundJob.owner_id == owner_id).order_by(BackgroundJob.id)
    )
    return found.all()
