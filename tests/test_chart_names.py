"""Names are shown as written in charts: a `$` in a field or unit name is not mathematics."""

from __future__ import annotations

import asyncio
from datetime import datetime

from sqlalchemy import update

from bot.cli import main
from storage.models import Field, Unit
from tests.conftest import ADMIN_ID
from tests.test_digest import HANOI, coordinator, digests_until  # noqa: F401 - a fixture
from tests.test_registration import join, register_quickly
from tests.test_statistics import (
    data,  # noqa: F401 - a fixture
    thongke,
)

FIELD = r"Số $\sqrt{x$"
UNIT = r"$$ \frac{"
PNG = b"\x89PNG\r\n\x1a\n"


async def rename(db, *, field: str, unit_code: str) -> None:
    async with db.session() as session:
        await session.execute(update(Field).where(Field.name == field).values(name=FIELD))
        await session.execute(update(Unit).where(Unit.code == unit_code).values(name=UNIT))


async def test_thongke_and_the_command_line_chart(
    data,  # noqa: F811
    db,
    chat,
    api,
    database_url,
    monkeypatch,
    tmp_path,
    capsys,
):
    await rename(db, field="An sinh xã hội", unit_code="U0")
    admin = chat(ADMIN_ID, "Quản trị")
    replies = await thongke(admin, "DVK26")
    assert f"  – {FIELD}: 4 (3 tập thể, 1 cá nhân)" in replies[0].splitlines()
    assert f"  – {UNIT}: 3 mô hình/2 thành viên" in replies[0].splitlines()
    sent = [call for call in api.calls if call.method in ("sendMessage", "sendPhoto")]
    assert [call.method for call in sent[-2:]] == ["sendMessage", "sendPhoto"]
    (_, png), *_ = sent[-1].params["_files"].values()
    assert png.startswith(PNG)

    monkeypatch.setenv("DVK_DATABASE_URL", database_url)
    monkeypatch.chdir(tmp_path)
    chart = tmp_path / "thongke.png"
    assert (
        await asyncio.to_thread(main, ["stats", "--campaign", "DVK26", "--chart", str(chart)]) == 0
    )
    assert f"  – {FIELD}: 4 (3 tập thể, 1 cá nhân)" in capsys.readouterr().out.splitlines()
    assert chart.read_bytes().startswith(PNG)


async def test_a_digest_whose_chart_names_a_unit_with_dollars(
    coordinator,  # noqa: F811
    chat,
    app,
    api,
    clock,
    db,
):
    await chat(ADMIN_ID, "Quản trị").send("/start")
    await register_quickly(await join(chat), "Chuyển đổi số trong giảng dạy")
    await rename(db, field="Chuyển đổi số", unit_code="CB-VP")
    got = await digests_until(
        app, api, clock, datetime(2026, 11, 30, 9, tzinfo=HANOI), chat_id=ADMIN_ID
    )
    assert [method for _, method, _ in got] == ["sendPhoto", "sendMessage"]
    assert "• Đăng ký mới chờ duyệt: 1 (tổng số đang chờ: 1)" in got[1][2]
    photo = next(c for c in reversed(api.calls) if c.method == "sendPhoto")
    (_, png), *_ = photo.params["_files"].values()
    assert png.startswith(PNG)
