"""/xuatanh [MÃĐỢT]: the evidence photos of the reports as one zip file, for a commendation file
to be assembled from — everything for an admin, their own units (sub-units included) for a
coordinator, the scope of /xuatexcel. One folder per model code, each photo named by model code
and the date its report was sent ("MH12/MH12_2026-11-28_1.jpg"); photos the media store does not
hold (kept only as Telegram file ids before the store existed) are listed in "chua-tai-ve.txt".
Made in the background like /xuatexcel; `dvk export --photos DIR` writes the same layout."""

from __future__ import annotations

import asyncio
import re
import tempfile
import zipfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo

from handlers.coordinator.export import asked_campaign, scope_of
from handlers.core import jobs
from handlers.core.commands import Command, Role
from handlers.core.context import Ctx
from handlers.core.jobs import Job, JobIO
from handlers.core.types import Outbound
from language import vn
from language.texts import Texts
from storage.media import MediaStore
from storage.records.audit import add_audit_entry
from storage.records.photos import (
    EvidencePhoto,
    Missing,
    evidence_layout,
    evidence_photos,
    missing_by_model,
)

JOB_KEY = "photos"
NOT_FETCHED = "chua-tai-ve.txt"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")

Write = Callable[[str, bytes], Awaitable[None]]
Progress = Callable[[int, int], Awaitable[None]]


def zip_name(today: date, campaign_code: str | None = None) -> str:
    """anh-minh-chung-2026-11-28.zip, or anh-minh-chung-DVK26-2026-11-28.zip for one campaign."""
    middle = f"{_UNSAFE.sub('-', campaign_code).strip('-.')}-" if campaign_code else ""
    return f"anh-minh-chung-{middle}{today.isoformat()}.zip"


@dataclass
class Saved:
    photos: int = 0
    models: set[int] = field(default_factory=set)
    missing: list[Missing] = field(default_factory=list)

    @property
    def missing_photos(self) -> int:
        return sum(item.count for item in self.missing)


async def save_evidence(
    store: MediaStore,
    photos: list[EvidencePhoto],
    timezone: ZoneInfo,
    write: Write,
    progress: Progress | None = None,
) -> Saved:
    """Each photo the store holds written under its path in the layout; the others counted
    as missing, by model and report."""
    saved = Saved()
    placed = evidence_layout(photos, timezone)
    kept = {photo.photo_id for _, photo in placed}
    absent = [photo for photo in photos if photo.photo_id not in kept]
    for done, (path, photo) in enumerate(placed, 1):
        content = await store.get(photo.media_key) if photo.media_key else None
        if content is None:  # a key whose file is gone (a store copied without it)
            absent.append(photo)
        else:
            await write(path, content)
            saved.photos += 1
            saved.models.add(photo.model_id)
        if progress is not None:
            await progress(done, len(placed))
    saved.missing = missing_by_model(absent)
    return saved


def missing_text(t: Texts, missing: list[Missing], *, advice: bool = True) -> str:
    """The photos not in the store, by model and report period, and (`advice`) what to do."""
    count = sum(item.count for item in missing)
    lines = [t("photos-missing-heading", count=vn.format_number(count))]
    lines += [
        t(
            "photos-missing-line",
            code=item.model_code,
            start=vn.format_date(item.period_start),
            end=vn.format_date(item.period_end),
            count=vn.format_number(item.count),
        )
        for item in missing
    ]
    if advice:
        lines.append(t("photos-missing-advice"))
    return "\n".join(lines)


async def export_photos_command(ctx: Ctx, args: str) -> None:
    asked = await asked_campaign(ctx, args)
    if asked is None:
        return
    export = PhotoExport(ctx.member.id, *asked)
    await jobs.start(ctx, Job(JOB_KEY, ctx.t("photos-started"), ctx.t("photos-busy"), export.run))


@dataclass(frozen=True)
class PhotoExport:
    member_id: int
    campaign_id: int | None
    campaign_code: str | None

    async def run(self, io: JobIO) -> None:
        # The rights of the moment it runs, not of the moment it was asked for.
        async with io.db.read() as session:
            scope = await scope_of(session, self.member_id, self.campaign_id)
            photos = (
                []
                if scope is None
                else await evidence_photos(
                    session, campaign_id=scope.campaign_id, unit_ids=scope.unit_ids
                )
            )
        if scope is None:
            await io.deliver([Outbound(io.t("error-not-allowed"))])
            return
        if io.media is None:
            await io.deliver([Outbound(io.t("photos-no-store"))])
            return
        if not photos:
            await io.deliver([Outbound(io.t("photos-none"))])
            return
        store, timezone = io.media, io.config.timezone
        name = zip_name(io.clock().astimezone(timezone).date(), self.campaign_code)

        async def progress(done: int, total: int) -> None:
            text = io.t(
                "photos-progress", done=vn.format_number(done), total=vn.format_number(total)
            )
            await io.progress(text, done / total if total else 1.0)

        with tempfile.TemporaryDirectory(prefix="dvk-photos-") as folder:
            path = Path(folder) / name
            # Pictures are compressed already: stored as they are, quick to make and to open.
            with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as archive:

                async def write(inside: str, content: bytes) -> None:
                    await asyncio.to_thread(archive.writestr, inside, content)

                saved = await save_evidence(store, photos, timezone, write, progress)
                if saved.missing:
                    await write(NOT_FETCHED, missing_text(io.t, saved.missing).encode())
            async with io.db.session() as session:
                await add_audit_entry(
                    session,
                    at=io.clock(),
                    actor_id=self.member_id,
                    action="photos.exported",
                    details={
                        "campaign": self.campaign_code,
                        "units": None if scope.unit_ids is None else len(scope.unit_ids),
                        "photos": saved.photos,
                        "missing": saved.missing_photos,
                    },
                )
            done = io.t(
                "photos-done",
                photos=vn.format_number(saved.photos),
                models=vn.format_number(len(saved.models)),
            )
            if saved.missing:
                done += "\n" + io.t(
                    "photos-done-missing",
                    count=vn.format_number(saved.missing_photos),
                    file=NOT_FETCHED,
                )
            # Sent while the file still exists: the folder goes when the block ends.
            await io.deliver([Outbound(done, document_file=(name, path))])


COMMANDS = (
    Command(
        ("xuatanh",),
        Role.STAFF,
        lambda ctx, conv, args: export_photos_command(ctx, args),
        shows=True,
    ),
)
