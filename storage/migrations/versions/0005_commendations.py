"""commendations

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26 20:44:10.802924
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "commendations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("level", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("decision_number", sa.String(length=64), nullable=True),
        sa.Column("decided_on", sa.Date(), nullable=True),
        sa.Column("recorded_by", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["model_id"],
            ["models.id"],
            name=op.f("fk_commendations_model_id_models"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["members.id"], name=op.f("fk_commendations_recorded_by_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_commendations")),
        sa.UniqueConstraint("model_id", "level", name=op.f("uq_commendations_model_id")),
    )
    with op.batch_alter_table("commendations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_commendations_model_id"), ["model_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("commendations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_commendations_model_id"))

    op.drop_table("commendations")
