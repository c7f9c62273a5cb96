"""Evidence photos as the exports and `dvk media fetch` read them: which are not in the media
store yet, and where each one goes in a folder of evidence (one folder per model code, each
file named by model code, report date and a running number). Keyword-only; never commit."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Row, Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.media import extension_of, valid_key
from storage.models import Model, Report, ReportPhoto

# Telegram's file ids are URL-safe base64; what other channels keep there is not: the media
# key itself (Zalo, "….jpg") or a path on the machine (the terminal).
_TELEGRAM_FILE_ID = re.compile(r"^[A-Za-z0-9_-]+$")
# What a folder or file name may hold, whatever an imported model code contains.
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


def is_telegram_file_id(file_id: str) -> bool:
    return bool(_TELEGRAM_FILE_ID.match(file_id))


@dataclass(frozen=True)
class EvidencePhoto:
    photo_id: int
    file_id: str
    media_key: str | None
    model_id: int
    model_code: str
    period_start: date
    period_end: date
    submitted_at: datetime
    position: int


def _code(model_id: int, code: str | None) -> str:
    return code or f"MH{model_id}"


# (photo id, file id, media key, model id, model code, period start and end, sent, position)
_Photo = tuple[int, str, str | None, int, str | None, date, date, datetime, int]


def _query() -> Select[*_Photo]:
    return (
        select(
            ReportPhoto.id,
            ReportPhoto.file_id,
            ReportPhoto.media_key,
            Model.id,
            Model.code,
            Report.period_start,
            Report.period_end,
            Report.submitted_at,
            ReportPhoto.position,
        )
        .join(Report, Report.id == ReportPhoto.report_id)
        .join(Model, Model.id == Report.model_id)
    )


def _rows(rows: Sequence[Row[*_Photo]]) -> list[EvidencePhoto]:
    return [
        EvidencePhoto(photo_id, file_id, key, model_id, _code(model_id, code), start, end, at, n)
        for photo_id, file_id, key, model_id, code, start, end, at, n in rows
    ]


async def photos_to_fetch(
    session: AsyncSession, *, after_id: int = 0, limit: int = 50
) -> list[EvidencePhoto]:
    """Photos without a media key whose file id is Telegram's, by id after `after_id`."""
    found: list[EvidencePhoto] = []
    while len(found) < limit:
        rows = await session.execute(
            _query()
            .where(ReportPhoto.media_key.is_(None), ReportPhoto.id > after_id)
            .order_by(ReportPhoto.id)
            .limit(limit)
        )
        batch = _rows(rows.all())
        if not batch:
            break
        found += [photo for photo in batch if is_telegram_file_id(photo.file_id)]
        after_id = batch[-1].photo_id
    return found[:limit]


async def unfetched_photos(session: AsyncSession) -> list[EvidencePhoto]:
    """Every photo still without a media key that Telegram could give."""
    rows = await session.execute(
        _query().where(ReportPhoto.media_key.is_(None)).order_by(ReportPhoto.id)
    )
    return [photo for photo in _rows(rows.all()) if is_telegram_file_id(photo.file_id)]


async def evidence_photos(
    session: AsyncSession, *, campaign_id: int | None = None, unit_ids: frozenset[int] | None = None
) -> list[EvidencePhoto]:
    """The photos of every report in the scope (a campaign; a coordinator's units), by model
    code, then report, then their order in the report."""
    query = _query()
    if campaign_id is not None:
        query = query.where(Model.campaign_id == campaign_id)
    if unit_ids is not None:
        query = query.where(Model.unit_id.in_(sorted(unit_ids)))
    rows = await session.execute(
        query.order_by(Model.code, Model.id, Report.submitted_at, Report.id, ReportPhoto.position)
    )
    return _rows(rows.all())


@dataclass(frozen=True)
class Missing:
    """Photos of one report that are not in the media store."""

    model_code: str
    period_start: date
    period_end: date
    count: int


def missing_by_model(photos: Iterable[EvidencePhoto]) -> list[Missing]:
    counts = Counter((p.model_code, p.period_start, p.period_end) for p in photos)
    return [Missing(code, start, end, n) for (code, start, end), n in sorted(counts.items())]


def safe_name(code: str, model_id: int) -> str:
    return _UNSAFE.sub("-", code).strip("-") or f"MH{model_id}"


def evidence_layout(
    photos: Iterable[EvidencePhoto], timezone: ZoneInfo
) -> list[tuple[str, EvidencePhoto]]:
    """(path in the folder, photo) of each photo that has a media key: "MH12/MH12_2026-11-28_1.jpg",
    the date its report was sent (in `timezone`), numbered per model and date."""
    numbers: Counter[tuple[str, date]] = Counter()
    layout = []
    for photo in photos:
        if photo.media_key is None or not valid_key(photo.media_key):
            continue
        folder = safe_name(photo.model_code, photo.model_id)
        day = photo.submitted_at.astimezone(timezone).date()
        numbers[folder, day] += 1
        name = f"{folder}_{day.isoformat()}_{numbers[folder, day]}.{extension_of(photo.media_key)}"
        layout.append((f"{folder}/{name}", photo))
    return layout
