"""The demo's invite codes are public (DEMO-PT makes a coordinator): `dvk demo-seed` refuses a
database with people of its own, `dvk run` refuses a database where the codes still work, and
`dvk start` without a token keeps its terminal demo on the demo's own database."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.demo import INVITES, seed
from storage import models
from storage.db import Database
from storage.records.invites import invite_by_code
from tests.conftest import TOKEN
from tests.fakebotapi import FakeBotApi, running

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
DEMO_CODES = sorted(code for code, *_ in INVITES)


def dvk(cwd: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DVK_")}
    for proxy in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"):
        environ.pop(proxy, None)
    environ.update(PYTHONPATH=str(ROOT), NO_PROXY="127.0.0.1,localhost", **env)
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,  # no .env there
        env=environ,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def add_person(db: Database, channel: str, external_id: str) -> None:
    async with db.session() as session:
        member = models.Member(full_name="Phạm Thị Thật", created_at=NOW)
        session.add(member)
        session.add(
            models.Identity(
                member=member,
                channel=channel,
                external_id=external_id,
                chat_id=external_id,
                created_at=NOW,
            )
        )


async def counts(db: Database) -> tuple[int, int, list[str]]:
    """(members, units, demo invite codes) in the database."""
    async with db.session() as session:
        members = await session.scalar(select(func.count()).select_from(models.Member))
        units = await session.scalar(select(func.count()).select_from(models.Unit))
        codes = await session.scalars(
            select(models.Invite.code).where(models.Invite.code.in_(DEMO_CODES))
        )
        return members or 0, units or 0, sorted(codes)


async def test_demo_seed_refuses_a_database_with_people_of_its_own(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    await add_person(db, "telegram", "4242")
    before = await counts(db)

    done = await asyncio.to_thread(dvk, tmp_path, "demo-seed", DVK_DATABASE_URL=database_url)

    assert done.returncode == 2, done.stdout + done.stderr
    refused = "Không tạo dữ liệu thử: cơ sở dữ liệu (DVK_DATABASE_URL) đã có 1 người ngoài"
    assert refused in done.stderr
    assert "created" not in done.stdout
    assert await counts(db) == before == (1, 0, [])


async def test_demo_seed_refuses_a_seeded_database_someone_joined(
    database_url: str, db: Database, tmp_path: Path
) -> None:
    first = await asyncio.to_thread(dvk, tmp_path, "demo-seed", DVK_DATABASE_URL=database_url)
    assert first.returncode == 0, first.stderr
    # Here `--as coordinator` would be someone new: the demo's people by their own names.
    assert "dvk chat --as admin (quản trị) | --as phutrach (cán bộ phụ trách) | --as an" in (
        first.stdout
    )
    again = await asyncio.to_thread(dvk, tmp_path, "demo-seed", DVK_DATABASE_URL=database_url)
    assert again.returncode == 0, again.stderr
    assert "Dữ liệu thử đã có sẵn, không tạo thêm gì." in again.stdout
    # Someone joins (through DEMO-TV, say); the demo no longer owns this database.
    await add_person(db, "terminal", "someone-new")
    before = await counts(db)

    done = await asyncio.to_thread(dvk, tmp_path, "demo-seed", DVK_DATABASE_URL=database_url)

    assert done.returncode == 2
    assert "đã có 1 người ngoài những người thử" in done.stderr
    assert await counts(db) == before


@pytest.mark.parametrize("revoked", [[], ["DEMO-TV"]], ids=["both", "one-revoked"])
async def test_dvk_run_refuses_a_database_with_the_demo_invites(
    database_url: str, db: Database, tmp_path: Path, revoked: list[str]
) -> None:
    async with db.session() as session:
        await seed(session, now=NOW, today=NOW.date())
        for code in revoked:
            invite = await invite_by_code(session, code=code)
            assert invite is not None
            invite.revoked = True
    live = [code for code in DEMO_CODES if code not in revoked]

    with running(FakeBotApi(token=TOKEN)) as api:
        done = await asyncio.to_thread(
            dvk,
            tmp_path,
            "run",
            DVK_TELEGRAM_TOKEN=TOKEN,
            DVK_TELEGRAM_API_URL=api.url,
            DVK_DATABASE_URL=database_url,
        )
        assert api.methods() == []  # refused before Telegram was asked anything

    assert done.returncode == 2, done.stderr
    assert f"còn các lời mời thử {', '.join(live)} của `dvk demo-seed`" in done.stderr
    quoted = ", ".join(f"'{code}'" for code in live)
    assert f"UPDATE invites SET revoked = true WHERE code IN ({quoted});" in done.stderr
    assert "Traceback" not in done.stderr


async def test_dvk_start_without_a_token_keeps_the_terminal_demo(tmp_path: Path) -> None:
    """The terminal demo seeds its own file (data/demo.sqlite3), whoever joined it since."""
    first = await asyncio.to_thread(dvk, tmp_path, "start", stdin="/thoat\n")
    assert first.returncode == 0, first.stderr
    assert "Đã tạo: đơn vị DUK" in first.stdout
    assert "lời mời DEMO-TV" in first.stdout

    demo = Database.from_url(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'demo.sqlite3'}")
    try:
        await add_person(demo, "terminal", "someone-new")
    finally:
        await demo.dispose()

    again = await asyncio.to_thread(dvk, tmp_path, "start", stdin="/thoat\n")
    assert again.returncode == 0, again.stderr
    assert "Dữ liệu thử đã có sẵn, không tạo thêm gì." in again.stdout
    assert "dvk chat — bạn là «an»" in again.stdout
    assert "Không tạo dữ liệu thử" not in again.stderr
