"""campaign registration window

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 20:40:38.696265
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.add_column(sa.Column("registration_opens_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("registration_closes_on", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.drop_column("registration_closes_on")
        batch_op.drop_column("registration_opens_on")
