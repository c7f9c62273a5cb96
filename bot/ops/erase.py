"""`dvk erase MEMBER_ID...`: erase people's personal data by member id, as /xoadulieu does, for
the operator who restored a backup and must erase again those erased since it was made (the
audit log's `personal.erased` entries name them by id). One transaction; the photo files are
deleted once it has committed."""

from __future__ import annotations

import sys

from bot.config import Settings
from bot.runtime import build_core, utc_now
from storage.db import Database
from storage.media import FolderStore
from storage.models import Member
from storage.records.audit import add_audit_entry
from storage.retention import erase_person


async def erase_command(settings: Settings, member_ids: list[int]) -> int:
    db = Database.from_url(settings.database_url, busy_timeout=settings.db_busy_timeout)
    t, now, keys = build_core(settings, db).texts, utc_now(), []
    try:
        async with db.session() as session:
            for member_id in dict.fromkeys(member_ids):
                if await session.get(Member, member_id) is None:
                    print(t("erase-cli-unknown", id=member_id), file=sys.stderr)
                    return 1
                erased = await erase_person(
                    session, member_id=member_id, now=now, left=t("member-left")
                )
                keys += erased.media_keys
                await add_audit_entry(
                    session,
                    at=now,
                    actor_id=None,
                    action="personal.erased",
                    object_type="member",
                    object_id=member_id,
                    details={"by": "cli", "commendations_kept": erased.commendations},
                )
        store = FolderStore(settings.media_dir)
        for key in keys:
            await store.delete(key)
        print(t("erase-cli-done", count=len(set(member_ids))))
    finally:
        await db.dispose()
    return 0
