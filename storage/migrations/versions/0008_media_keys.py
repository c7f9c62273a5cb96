"""report photos keep their media store key

Evidence photos are kept in the media store (storage/media.py) as they arrive, so that any
channel can show them; the key is kept beside the channel's file id. Rows from before have none.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("report_photos", schema=None) as batch_op:
        batch_op.add_column(sa.Column("media_key", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("report_photos", schema=None) as batch_op:
        batch_op.drop_column("media_key")
