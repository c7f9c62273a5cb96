"""conferences broadcasts questions model codes

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 21:21:22.708037
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "broadcasts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("progress_channel", sa.String(length=16), nullable=True),
        sa.Column("progress_chat_id", sa.String(length=64), nullable=True),
        sa.Column("progress_message_id", sa.String(length=64), nullable=True),
        sa.Column("progress_text", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by"], ["members.id"], name=op.f("fk_broadcasts_created_by_members")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_broadcasts")),
    )
    op.create_table(
        "conferences",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("held_on", sa.Date(), nullable=False),
        sa.Column("recorded_by", sa.Integer(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_conferences_campaign_id_campaigns")
        ),
        sa.ForeignKeyConstraint(
            ["recorded_by"], ["members.id"], name=op.f("fk_conferences_recorded_by_members")
        ),
        sa.ForeignKeyConstraint(
            ["unit_id"], ["units.id"], name=op.f("fk_conferences_unit_id_units")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_conferences")),
        sa.UniqueConstraint("unit_id", "campaign_id", name=op.f("uq_conferences_unit_id")),
    )
    with op.batch_alter_table("conferences", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_conferences_campaign_id"), ["campaign_id"], unique=False
        )

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("questions", sa.JSON(), server_default="[]", nullable=False))

    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.add_column(sa.Column("code", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("registered_on", sa.Date(), nullable=True))
        batch_op.alter_column("owner_id", existing_type=sa.INTEGER(), nullable=True)
        batch_op.create_index(
            batch_op.f("ix_models_registered_on"), ["registered_on"], unique=False
        )
        batch_op.create_unique_constraint(batch_op.f("uq_models_code"), ["code"])

    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.alter_column("member_id", existing_type=sa.INTEGER(), nullable=True)

    with op.batch_alter_table("commendations", schema=None) as batch_op:
        batch_op.alter_column("recorded_by", existing_type=sa.INTEGER(), nullable=True)

    # Models registered before codes existed get theirs; the registration date is the day
    # they were first sent (UTC is close enough for the few days around midnight).
    op.execute("UPDATE models SET code = 'MH' || id WHERE code IS NULL")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE models SET registered_on = CAST(submitted_at AS DATE)")
    else:
        op.execute("UPDATE models SET registered_on = date(submitted_at)")


def downgrade() -> None:
    with op.batch_alter_table("commendations", schema=None) as batch_op:
        batch_op.alter_column("recorded_by", existing_type=sa.INTEGER(), nullable=False)

    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.alter_column("member_id", existing_type=sa.INTEGER(), nullable=False)

    with op.batch_alter_table("models", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_models_code"), type_="unique")
        batch_op.drop_index(batch_op.f("ix_models_registered_on"))
        batch_op.alter_column("owner_id", existing_type=sa.INTEGER(), nullable=False)
        batch_op.drop_column("registered_on")
        batch_op.drop_column("code")

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("questions")

    with op.batch_alter_table("conferences", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_conferences_campaign_id"))

    op.drop_table("conferences")
    op.drop_table("broadcasts")
