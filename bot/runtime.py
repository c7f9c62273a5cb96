"""Assembles the core from the settings; shared by every channel and the command line."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from bot import channels
from bot.config import Settings
from bot.ops.metrics import Metrics
from handlers.core.context import CoreConfig
from handlers.core.menu import commands_for
from handlers.core.router import Core
from storage.db import Database
from storage.periods import QuietHours
from storage.records.people import find_identity
from storage.records.units import coordinated_unit_ids


def utc_now() -> datetime:
    return datetime.now(UTC)


def core_config(settings: Settings, clock: Callable[[], datetime] | None = None) -> CoreConfig:
    return CoreConfig(
        timezone=ZoneInfo(settings.timezone),
        language=settings.language,
        draft_ttl=timedelta(hours=settings.draft_ttl_hours),
        quiet_hours=QuietHours.parse(settings.quiet_hours),
        reminder_hour=settings.reminder_hour,
        remind_before_days=settings.remind_before_days,
        remind_overdue_days=settings.remind_overdue_days,
        nudge_after=timedelta(hours=settings.nudge_after_hours),
        retention_days=settings.retention_days,
        bootstrap_admins=settings.admins_by_channel(),
        channels=channels.registry(settings, clock),
        link_pepper=link_pepper(settings),
        report_template=settings.report_template,
        concurrent_steps=settings.concurrent_steps,
    )


def link_pepper(settings: Settings) -> bytes:
    """What /lienket codes are hashed under, so that a copy of the database alone cannot tell
    a live code (a million 6-digit codes are hashed in a moment): DVK_LINK_SECRET, else derived
    from the bot tokens and the database address, which a database copy does not hold."""
    if settings.link_secret is not None:
        material = "secret:" + settings.link_secret.get_secret_value()
    else:
        tokens = [t.get_secret_value() for t in (settings.telegram_token, settings.zalo_token) if t]
        material = "derived:" + "\n".join([*tokens, settings.database_url])
    # Its own key, apart from the one that signs media links with the same secret.
    return hmac.new(material.encode(), b"dvk link codes", hashlib.sha256).digest()


def build_core(settings: Settings, db: Database, clock: Callable[[], datetime] = utc_now) -> Core:
    core = Core(db, core_config(settings, clock), clock)
    core.observer = Metrics(db)  # the process's own registry (bot/ops/metrics.py)
    return core


async def menu_of(core: Core, *, channel: str, external_id: str) -> list[tuple[str, str]]:
    """(command, description) pairs for one person's command menu."""
    async with core.db.session() as session:
        identity = await find_identity(session, channel=channel, external_id=external_id)
        if identity is None:
            names = commands_for(is_admin=False, is_coordinator=False)
        else:
            coordinated = await coordinated_unit_ids(session, member_id=identity.member_id)
            names = commands_for(
                is_admin=identity.member.is_admin, is_coordinator=bool(coordinated)
            )
    return [(name, core.texts(f"menu-{name}")) for name in names]
