"""The seed data migration 0001 inserts (its own frozen copy), for restoring after truncation."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

# The fields of activity named in the movement's reports; admins add or hide more later.
FIELDS = [
    "Phát triển kinh tế, giảm nghèo",
    "Phát huy sáng tạo",
    "Xây dựng kết cấu hạ tầng",
    "Xây dựng tổ chức Đảng, chính quyền, đoàn thể",
    "Nâng cao đạo đức công vụ",
    "Cải cách hành chính",
    "Xây dựng nông thôn mới, đô thị văn minh",
    "An sinh xã hội",
    "Chuyển đổi số",
    "Thực hành tiết kiệm, chống lãng phí",
    "Nghiên cứu khoa học",
]


def field_rows() -> list[dict[str, object]]:
    return [{"name": name, "position": i, "hidden": False} for i, name in enumerate(FIELDS, 1)]


async def insert_fields(conn: AsyncConnection) -> None:
    await conn.execute(
        text("INSERT INTO fields (name, position, hidden) VALUES (:name, :position, :hidden)"),
        field_rows(),
    )
