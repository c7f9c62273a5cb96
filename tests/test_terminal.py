"""`dvk chat` and `dvk demo-seed` as real processes: a complete registration through standard
input against the same database the Telegram bot uses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from storage.models import Identity, Member, Model, Target

ROOT = Path(__file__).resolve().parents[1]


def dvk(
    args: list[str], database_url: str, cwd: Path, stdin: str = ""
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DVK_")}
    env["DVK_DATABASE_URL"] = database_url
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


async def test_dvk_chat_joins_and_registers_through_stdin(db, database_url, tmp_path):
    seeded = dvk(["demo-seed"], database_url, tmp_path)
    assert seeded.returncode == 0, seeded.stderr
    assert "lời mời DEMO-TV" in seeded.stdout
    again = dvk(["demo-seed"], database_url, tmp_path)
    assert "Dữ liệu thử đã có sẵn, không tạo thêm gì." in again.stdout

    lines = [
        "/start DEMO-TV",
        "đồng ý",  # the personal-data notice, typed as its option's label
        "Hoàng Văn Minh",
        "5",  # [5] Đoàn viên
        "0988 123 456",
        "/dangky",
        "1",  # [1] Tập thể
        "Chi đoàn Thanh niên",
        "25",
        "Thanh niên tình nguyện xây nhà đại đoàn kết",
        "8",  # [8] An sinh xã hội
        "Mỗi tháng một ngày công tình nguyện",
        "Xây 2 căn nhà cho hộ nghèo",
        "nhà đại đoàn kết",
        "căn",
        "2",
        "2",  # [2] Xong
        "01/12/2026",
        "31/12/2026",
        "1",  # [1] Gửi đăng ký
        "/mohinh",
        "/thoat",
    ]
    result = dvk(["chat", "--as", "minh"], database_url, tmp_path, "\n".join(lines) + "\n")
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "🔒 Thông báo về dữ liệu cá nhân (phiên bản" in out
    assert "Bạn được mời tham gia Chi bộ Văn phòng với vai trò thành viên" in out
    assert "  [5] Đoàn viên" in out
    assert "Chào mừng Hoàng Văn Minh đã tham gia Chi bộ Văn phòng" in out
    assert "• Số người: 25" in out
    assert "✅ Đã gửi đăng ký mô hình «Thanh niên tình nguyện xây nhà đại đoàn kết»" in out
    assert "MH1 · Thanh niên tình nguyện xây nhà đại đoàn kết — Đã gửi, chờ duyệt" in out

    async with db.session() as session:
        model = await session.scalar(
            select(Model)
            .join(Member, Member.id == Model.owner_id)
            .join(Identity)
            .where(Identity.channel == "terminal", Identity.external_id == "minh")
        )
        target = await session.scalar(select(Target).where(Target.model_id == model.id))
    assert model.status == "submitted" and model.headcount == 25
    assert (target.indicator, int(target.target_value)) == ("nhà đại đoàn kết", 2)


async def test_dvk_chat_shows_queued_messages_and_ends_on_eof(db, database_url, tmp_path):
    assert dvk(["demo-seed"], database_url, tmp_path).returncode == 0
    # A guest asks to join; the seeded admin sees the request when opening the chat.
    guest = dvk(
        ["chat", "--as", "khach"],
        database_url,
        tmp_path,
        "/start\n1\nLý Thị Hoa\n1\nbệnh viện\n/boqua\n1\n",  # 1: «Đồng ý» to the notice
    )
    assert "Đã gửi yêu cầu tham gia Chi bộ Bệnh viện Đa khoa." in guest.stdout
    admin = dvk(["chat", "--as", "admin"], database_url, tmp_path, "1\n")
    assert "🔔 Yêu cầu tham gia mới\nHọ tên: Lý Thị Hoa" in admin.stdout
    assert "Đã chấp nhận Lý Thị Hoa vào Chi bộ Bệnh viện Đa khoa." in admin.stdout
