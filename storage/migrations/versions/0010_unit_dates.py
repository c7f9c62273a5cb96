"""unit dates: the days each unit was active, so a campaign counts the units of its time

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 00:30:00
"""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def _day(moment: datetime) -> date:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(VIETNAM).date()


def upgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.add_column(sa.Column("active_from", sa.Date(), nullable=True))
        batch.add_column(sa.Column("active_until", sa.Date(), nullable=True))
    # Units added in the chat began that day (their "unit.added" entry); units imported or seeded
    # may be older than the file, so their beginning stays unknown. A unit deactivated so far
    # ended on the day of its last "unit.deactivated" entry, else on the day it was made.
    bind = op.get_bind()
    units = sa.table(
        "units",
        sa.column("id", sa.Integer),
        sa.column("active", sa.Boolean),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("active_from", sa.Date),
        sa.column("active_until", sa.Date),
    )
    audit = sa.table(
        "audit_log",
        sa.column("action", sa.String),
        sa.column("object_id", sa.Integer),
        sa.column("at", sa.DateTime(timezone=True)),
    )
    added = dict(
        bind.execute(
            sa.select(audit.c.object_id, sa.func.min(audit.c.at))
            .where(audit.c.action == "unit.added")
            .group_by(audit.c.object_id)
        ).all()
    )
    ended = dict(
        bind.execute(
            sa.select(audit.c.object_id, sa.func.max(audit.c.at))
            .where(audit.c.action == "unit.deactivated")
            .group_by(audit.c.object_id)
        ).all()
    )
    for unit_id, active, created_at in bind.execute(
        sa.select(units.c.id, units.c.active, units.c.created_at)
    ).all():
        values = {}
        if unit_id in added:
            values["active_from"] = _day(added[unit_id])
        if not active:
            values["active_until"] = _day(ended.get(unit_id) or created_at)
        if values:
            bind.execute(units.update().where(units.c.id == unit_id).values(**values))


def downgrade() -> None:
    with op.batch_alter_table("units") as batch:
        batch.drop_column("active_until")
        batch.drop_column("active_from")
