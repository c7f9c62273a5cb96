"""running totals of targets

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 21:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "achieved", sa.Numeric(precision=24, scale=4), server_default="0", nullable=False
            )
        )
    op.execute(
        "UPDATE targets SET achieved = COALESCE("
        "(SELECT SUM(value) FROM report_values WHERE report_values.target_id = targets.id), 0)"
    )


def downgrade() -> None:
    with op.batch_alter_table("targets", schema=None) as batch_op:
        batch_op.drop_column("achieved")
