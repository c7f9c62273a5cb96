"""members.name_folded: each name in lower case without diacritics, indexed, so that choosing a
person among 100,000 is searched and paged in SQL; existing names are folded here

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 09:40:00
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

members = sa.table(
    "members",
    sa.column("id", sa.Integer),
    sa.column("full_name", sa.String),
    sa.column("name_folded", sa.String),
)


def fold(text: str) -> str:
    """language/vietnamese.py's `fold` as it was when this migration was written."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


def upgrade() -> None:
    op.add_column("members", sa.Column("name_folded", sa.String(length=100), nullable=True))
    op.create_index(op.f("ix_members_name_folded"), "members", ["name_folded"])
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(members.c.id, members.c.full_name).where(members.c.full_name.is_not(None))
    ).all()
    for start in range(0, len(rows), 1000):
        connection.execute(
            members.update()
            .where(members.c.id == sa.bindparam("member_id"))
            .values(name_folded=sa.bindparam("folded")),
            [{"member_id": i, "folded": fold(name)} for i, name in rows[start : start + 1000]],
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_members_name_folded"), table_name="members")
    op.drop_column("members", "name_folded")
