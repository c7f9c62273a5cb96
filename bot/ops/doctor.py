"""`dvk doctor [--fix]`: what earlier faults left in the data (storage/doctor.py), and its
repair in one transaction."""

from __future__ import annotations

from bot.config import Settings
from bot.runtime import build_core, utc_now
from storage.db import Database


async def doctor_command(settings: Settings, *, fix: bool) -> int:
    """`dvk doctor [--fix]`: the records to repair, then their counts as key=value."""
    from handlers.core import buttons
    from handlers.core.notify import payload
    from handlers.core.types import Choice
    from storage import doctor as checks
    from storage.models import Model
    from storage.records.models import model_code

    db = Database.from_url(settings.database_url, busy_timeout=settings.db_busy_timeout)
    core = build_core(settings, db)
    t, now = core.texts, utc_now()

    def notice(model: Model) -> dict[str, object]:
        text = t("registration-back-to-draft", title=model.title, code=model_code(model))
        return payload(text, [[Choice(t("button-edit-resubmit"), buttons.RESUBMIT(model.id))]])

    try:
        async with db.session() as session:
            found = await checks.examine(session)
            for line in checks.describe(found):
                print(line)
            counts = found.counts()
            if fix:
                not_before = core.config.quiet_hours.next_allowed(
                    now.astimezone(core.config.timezone)
                )
                counts = await checks.repair(
                    session, found, now=now, not_before=not_before, notice=notice
                )
    finally:
        await db.dispose()
    pairs = {"mode": "fix" if fix else "check", **counts}
    print(" ".join(f"{key}={value}" for key, value in pairs.items()))
    return 0
