"""report_issuers: who issues a top-level unit's year-end report (committee, superior, place,
signer's title), kept once for every report after

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06 04:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "report_issuers",
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("committee", sa.String(length=200), nullable=True),
        sa.Column("superior", sa.String(length=200), nullable=True),
        sa.Column("place", sa.String(length=100), nullable=True),
        sa.Column("signer", sa.String(length=100), nullable=True),
        sa.Column("updated_by", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["unit_id"],
            ["units.id"],
            name=op.f("fk_report_issuers_unit_id_units"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["members.id"],
            name=op.f("fk_report_issuers_updated_by_members"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("unit_id", name=op.f("pk_report_issuers")),
    )


def downgrade() -> None:
    op.drop_table("report_issuers")
