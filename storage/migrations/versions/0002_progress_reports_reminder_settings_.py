"""progress reports, reminder settings, outbox sender fields

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 19:02:34.837961
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("model_id", sa.Integer(), nullable=False),
        sa.Column("member_id", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.Date(), nullable=False),
        sa.Column("period_end", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("done_text", sa.Text(), nullable=False),
        sa.Column("difficulties", sa.Text(), nullable=True),
        sa.Column("proposals", sa.Text(), nullable=True),
        sa.Column("completed", sa.Boolean(), nullable=False),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column("replaced", sa.Integer(), nullable=False),
        sa.Column("extra", sa.JSON(), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["member_id"], ["members.id"], name=op.f("fk_reports_member_id_members")
        ),
        sa.ForeignKeyConstraint(
            ["model_id"], ["models.id"], name=op.f("fk_reports_model_id_models"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reports")),
        sa.UniqueConstraint("model_id", "period_start", name=op.f("uq_reports_model_id")),
    )
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.create_index("ix_reports_period", ["period_start", "model_id"], unique=False)

    op.create_table(
        "report_photos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_report_photos_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_photos")),
    )
    with op.batch_alter_table("report_photos", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_photos_report_id"), ["report_id"], unique=False)

    op.create_table(
        "report_values",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("report_id", sa.Integer(), nullable=False),
        sa.Column("target_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.Numeric(precision=24, scale=4), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_report_values_report_id_reports"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["target_id"],
            ["targets.id"],
            name=op.f("fk_report_values_target_id_targets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_values")),
        sa.UniqueConstraint("report_id", "target_id", name=op.f("uq_report_values_report_id")),
    )
    with op.batch_alter_table("report_values", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_values_target_id"), ["target_id"], unique=False)

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("cadence", sa.String(length=16), server_default="monthly", nullable=False)
        )
        batch_op.add_column(sa.Column("due_day", sa.Integer(), server_default="25", nullable=False))

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("started_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("nudged_at", sa.DateTime(timezone=True), nullable=True))

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminder_hour", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("paused_until", sa.Date(), nullable=True))

    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.add_column(sa.Column("priority", sa.Integer(), server_default="5", nullable=False))
        batch_op.add_column(sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.drop_index("ix_outbox_status_due")
        batch_op.create_index("ix_outbox_queue", ["status", "priority", "not_before", "id"])


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_queue")
        batch_op.create_index("ix_outbox_status_due", ["status", "not_before"])
        batch_op.drop_column("claimed_at")
        batch_op.drop_column("priority")

    with op.batch_alter_table("members", schema=None) as batch_op:
        batch_op.drop_column("paused_until")
        batch_op.drop_column("reminder_hour")

    with op.batch_alter_table("conversations", schema=None) as batch_op:
        batch_op.drop_column("nudged_at")
        batch_op.drop_column("started_at")

    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("due_day")
        batch_op.drop_column("cadence")

    with op.batch_alter_table("report_values", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_values_target_id"))

    op.drop_table("report_values")
    with op.batch_alter_table("report_photos", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_photos_report_id"))

    op.drop_table("report_photos")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index("ix_reports_period")

    op.drop_table("reports")
