"""Importing a workbook from Zalo, which cannot send files: /nhapexcel answers with a one-time
link to the upload page, the workbook posted there is imported as a file sent on Telegram is,
and its result arrives in the admin's Zalo chat. Driven through the real core, the Zalo runner
against the fake Zalo API, and the project's HTTP app (bot/http.py) over ASGI."""

from __future__ import annotations

import asyncio
import hashlib
import re
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from bot import http
from bot.channels import channels_of
from bot.config import Settings
from bot.runtime import build_core
from bot.zalo import upload
from bot.zalo.api import ZaloApi
from bot.zalo.runner import ZaloRunner, outbox_sender
from language.texts import Texts
from storage.models import Conversation, Identity, Member
from storage.records.jobs import BackgroundJob
from storage.records.people import get_or_create_identity
from storage.records.uploads import WORKBOOK_IMPORT, UploadToken, create_upload, use_upload
from tests.conftest import ADMIN_ID, TOKEN
from tests.fakezalo import TOKEN as ZALO_TOKEN
from tests.fakezalo import FakeZalo
from tests.test_workbook_import import (
    BAD,
    CLEAN,
    DONE,
    EXPECTED,
    send_file,
    snapshot,
    stored,
    workbook,
)

T = Texts("vi")
PUBLIC_URL = "https://bot.example.vn"
LINK_SECRET = "a-long-enough-link-secret"
ADMIN = "z-admin"  # the Zalo admin, named in DVK_ADMIN_IDS
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LINK = re.compile(re.escape(PUBLIC_URL) + r"(/upload/[A-Za-z0-9_-]+)")


def make_settings(database_url: str, tmp_path: Path, **extra: object) -> Settings:
    return Settings(
        _env_file=None,
        telegram_token=TOKEN,
        database_url=database_url,
        admin_ids=f"{ADMIN_ID},zalo:{ADMIN}",
        media_dir=tmp_path / "media",
        send_rate=1,
        **extra,
    )


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, public_url=PUBLIC_URL, link_secret=LINK_SECRET)


@pytest.fixture
def zalo() -> FakeZalo:
    return FakeZalo()


async def runner_of(core, zalo: FakeZalo) -> AsyncIterator[ZaloRunner]:  # type: ignore[no-untyped-def]
    client = httpx.AsyncClient(transport=zalo.transport())
    yield ZaloRunner(core, ZaloApi(ZALO_TOKEN, api_url="https://zalo.test", client=client))
    await client.aclose()


@pytest.fixture
async def runner(core, zalo):  # type: ignore[no-untyped-def]
    async for made in runner_of(core, zalo):
        yield made


@pytest.fixture
async def web(core, runner) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    """The server's app as `dvk run` builds it, with the Zalo runner started beside it."""
    app = http.make_app(upload.routes(core), media=channels_of(core).media)
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
        yield client


async def say(runner: ZaloRunner, zalo: FakeZalo, text: str, user: str = ADMIN) -> list[str]:
    """The person writes on Zalo; one poll takes it and the bot answers. The answer's texts."""
    before = len(zalo.texts(user))
    zalo.queue_text(user, text, name="Quản trị Zalo")
    update = await runner.api.get_update(poll_seconds=1)
    assert update is not None
    await runner.handle(update)
    return zalo.texts(user)[before:]


async def ask_link(runner: ZaloRunner, zalo: FakeZalo) -> str:
    """/nhapexcel on Zalo; the path of the link it answers with."""
    [answer] = await say(runner, zalo, "/nhapexcel")
    found = LINK.search(answer)
    assert found is not None, answer
    return found.group(1)


async def posted(runner: ZaloRunner, web: httpx.AsyncClient, link: str, **form) -> httpx.Response:  # type: ignore[no-untyped-def]
    """A file posted on the page, its import run to the end in the background and its outcome
    sent to the admin's Zalo chat through the outbox."""
    response = await web.post(link, **form)
    await asyncio.gather(*runner.jobs)
    core = runner.core

    async def sleep(seconds: float) -> None:
        core.clock.advance(seconds=seconds)

    sender = outbox_sender(core, runner.api, sleep=sleep)
    while await sender.run_once():
        pass
    return response


def xlsx(name: str, content: bytes, kind: str = XLSX) -> dict[str, tuple[str, bytes, str]]:
    return {"file": (name, content, kind)}


def page_text(response: httpx.Response) -> str:
    return response.text.replace("&quot;", '"').replace("&#x27;", "'")


# --- the link in the chat ---------------------------------------------------------------------


async def test_nhapexcel_on_zalo_answers_with_a_link_that_works_once_for_15_minutes(
    db, runner, zalo, clock
):
    [answer] = await say(runner, zalo, "/nhapexcel")
    assert answer.startswith("📥 Ở đây không gửi được tệp đính kèm")
    assert "chỉ dùng được một lần, cho riêng bạn, trong 15 phút" in answer
    found = LINK.search(answer)
    assert found is not None
    token = found.group(1).rsplit("/", 1)[-1]
    async with db.session() as session:
        [row] = (await session.scalars(select(UploadToken))).all()
        admin = await session.scalar(select(Identity).where(Identity.external_id == ADMIN))
        conv = await session.scalar(select(Conversation))
    # Only the token's hash is kept: the table holds no usable link.
    assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in repr([getattr(row, c.name) for c in UploadToken.__table__.columns])
    assert (row.member_id, row.identity_id) == (admin.member_id, admin.id)
    assert row.purpose == WORKBOOK_IMPORT and row.used_at is None
    assert row.expires_at == clock() + timedelta(minutes=15)
    assert conv.form == "import"  # the step waits for the file, as on Telegram


async def test_without_a_public_url_the_bot_says_the_page_is_not_available(
    database_url, tmp_path, db, clock, zalo
):
    core = build_core(make_settings(database_url, tmp_path), db, clock)
    assert upload.routes(core) == []
    async for runner in runner_of(core, zalo):
        assert await say(runner, zalo, "/nhapexcel") == [T("import-upload-unavailable")]
    async with db.session() as session:
        assert (await session.scalars(select(UploadToken))).all() == []
        assert (await session.scalars(select(Conversation))).all() == []


async def test_telegram_is_unchanged_where_the_page_is_served(chat):
    admin = chat(ADMIN_ID, "Quản trị")
    [prompt] = await admin.send("/nhapexcel")
    assert prompt == T("ask-import-file") and PUBLIC_URL not in prompt
    assert await send_file(admin, "du-lieu.xlsx", workbook(CLEAN)) == [DONE]


async def test_text_at_the_step_points_to_a_new_link(db, runner, zalo):
    first = await ask_link(runner, zalo)
    [answer] = await say(runner, zalo, "tệp đây")
    assert answer.startswith("⚠️ " + T("import-use-link"))
    found = LINK.search(answer)
    assert found is not None and found.group(1) != first


# --- the page ---------------------------------------------------------------------------------


async def test_the_page_is_a_plain_form_and_showing_it_uses_nothing(db, runner, zalo, web):
    link = await ask_link(runner, zalo)
    for _ in range(2):
        response = await web.get(link)
        assert response.status_code == 200
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["referrer-policy"] == "no-referrer"
        text = page_text(response)
        assert "<title>Nhập dữ liệu từ Excel</title>" in text
        assert '<form method="post" enctype="multipart/form-data">' in text
        assert '<input type="file" name="file" accept=".xlsx,' in text
        assert "Tải lên" in text and "hết hạn lúc 09:15" in text  # Vietnam time
        assert "<script" not in text
    async with db.session() as session:
        assert (await session.scalar(select(UploadToken.used_at))) is None


async def test_a_workbook_posted_is_imported_in_the_chat_once(db, runner, zalo, web):
    link = await ask_link(runner, zalo)
    before = len(zalo.texts(ADMIN))

    response = await posted(runner, web, link, files=xlsx("du-lieu.xlsx", workbook(CLEAN)))

    assert response.status_code == 200
    assert "Đã nhận tệp «du-lieu.xlsx»" in page_text(response)
    # In the admin's chat, as on Telegram: the import began, then (a background job) its outcome.
    assert zalo.texts(ADMIN)[before:] == [T("import-started", file="du-lieu.xlsx"), DONE]
    assert await stored(db) == EXPECTED
    async with db.session() as session:
        assert (await session.scalar(select(UploadToken.used_at))) is not None
        assert (await session.scalars(select(Conversation))).all() == []  # the step is over
    data = await snapshot(db)

    # The link works once: a second post (or a look) is refused and imports nothing.
    again = await posted(runner, web, link, files=xlsx("du-lieu.xlsx", workbook(CLEAN)))
    assert again.status_code == 410 and T("upload-page-used") in page_text(again)
    assert (await web.get(link)).status_code == 410
    assert await snapshot(db) == data and len(zalo.texts(ADMIN)) == before + 2


async def test_a_workbook_with_problems_keeps_the_step_and_gives_a_new_link(db, runner, zalo, web):
    link = await ask_link(runner, zalo)
    before = len(zalo.texts(ADMIN))
    response = await posted(runner, web, link, files=xlsx("loi.xlsx", workbook(BAD)))
    assert response.status_code == 200
    text = "\n".join(zalo.texts(ADMIN)[before:])
    assert "❌ Chưa nhập gì từ «loi.xlsx»" in text
    assert (await stored(db))["models"] == []
    found = LINK.search(text)
    assert found is not None and found.group(1) != link
    # The corrected file through the new link is imported.
    await posted(runner, web, found.group(1), files=xlsx("du-lieu.xlsx", workbook(CLEAN)))
    assert zalo.texts(ADMIN)[-1] == DONE and await stored(db) == EXPECTED


# --- refusals: nothing happens ----------------------------------------------------------------


async def refused_and_nothing_happened(db, zalo, response, status: int, text: str) -> None:
    assert response.status_code == status
    assert text in page_text(response)
    assert (await stored(db))["models"] == []


async def test_an_expired_link_is_refused(db, runner, zalo, web, clock):
    link = await ask_link(runner, zalo)
    clock.advance(minutes=15)
    before = len(zalo.texts(ADMIN))
    expired = T("upload-page-expired", minutes=15)
    await refused_and_nothing_happened(db, zalo, await web.get(link), 410, expired)
    response = await posted(runner, web, link, files=xlsx("du-lieu.xlsx", workbook(CLEAN)))
    await refused_and_nothing_happened(db, zalo, response, 410, expired)
    assert response.headers["connection"] == "close"  # the body was not read
    assert len(zalo.texts(ADMIN)) == before
    async with db.session() as session:
        assert (await session.scalar(select(UploadToken.used_at))) is None


async def test_forged_and_unknown_links_are_refused(db, runner, zalo, web):
    link = await ask_link(runner, zalo)
    forged = link[:-4] + ("aaaa" if not link.endswith("aaaa") else "bbbb")
    for path in (forged, "/upload/x", "/upload/" + "A" * 32):
        await refused_and_nothing_happened(
            db, zalo, await web.get(path), 404, T("upload-page-unknown")
        )
        response = await posted(runner, web, path, files=xlsx("du-lieu.xlsx", workbook(CLEAN)))
        await refused_and_nothing_happened(db, zalo, response, 404, T("upload-page-unknown"))


async def test_a_link_is_only_for_the_admin_it_was_made_for(db, runner, zalo, web):
    # Someone who is not an admin gets no link at all.
    assert await say(runner, zalo, "/nhapexcel", user="z-member") == [T("error-not-allowed")]
    link = await ask_link(runner, zalo)
    async with db.session() as session:
        await session.execute(update(Member).values(is_admin=False))  # the right is taken away
    response = await posted(runner, web, link, files=xlsx("du-lieu.xlsx", workbook(CLEAN)))
    await refused_and_nothing_happened(db, zalo, response, 403, T("upload-page-not-allowed"))
    assert zalo.texts("z-member") == [T("error-not-allowed")]


async def test_a_file_after_the_import_was_cancelled_is_refused(db, runner, zalo, web):
    link = await ask_link(runner, zalo)
    await say(runner, zalo, "/huy")
    response = await posted(runner, web, link, files=xlsx("du-lieu.xlsx", workbook(CLEAN)))
    await refused_and_nothing_happened(db, zalo, response, 409, T("upload-page-closed"))
    async with db.session() as session:
        assert (await session.scalar(select(UploadToken.used_at))) is None


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("ghi-chu.txt", b"xin chao"),
        ("cu.xls", b"\xd0\xcf\x11\xe0" + bytes(64)),  # an old Excel file
        ("gia.xlsx", b"day khong phai tep Excel"),  # named .xlsx, not a zip
    ],
)
async def test_a_file_that_is_not_xlsx_is_refused_and_the_link_still_works(
    db, runner, zalo, web, name, content
):
    link = await ask_link(runner, zalo)
    before = len(zalo.texts(ADMIN))
    response = await posted(
        runner, web, link, files=xlsx(name, content, "application/octet-stream")
    )
    await refused_and_nothing_happened(
        db, zalo, response, 415, T("upload-page-wrong-type", file=name)
    )
    assert '<input type="file"' in response.text  # the form again, to choose another file
    assert len(zalo.texts(ADMIN)) == before
    # Nothing was used up: the right file through the same link is imported.
    await posted(runner, web, link, files=xlsx("du-lieu.xlsx", workbook(CLEAN)))
    assert zalo.texts(ADMIN)[-1] == DONE


async def test_no_file_chosen(db, runner, zalo, web):
    link = await ask_link(runner, zalo)
    response = await web.post(link, data={"ghi": "chu"}, files={"other": ("a.xlsx", b"PK")})
    await refused_and_nothing_happened(db, zalo, response, 400, T("upload-page-no-file"))
    response = await web.post(link, content=b"file=x")
    await refused_and_nothing_happened(db, zalo, response, 400, T("upload-page-no-file"))


async def test_an_oversized_file_is_refused_before_it_is_read(db, runner, zalo, web):
    link = await ask_link(runner, zalo)
    before = len(zalo.texts(ADMIN))
    big = b"PK\x03\x04" + bytes(21 * 1024 * 1024)  # over 20 MB and the form around it
    response = await posted(runner, web, link, files=xlsx("lon.xlsx", big))
    await refused_and_nothing_happened(db, zalo, response, 413, T("upload-page-too-big", max=20))
    assert response.headers["connection"] == "close"
    assert len(zalo.texts(ADMIN)) == before
    async with db.session() as session:
        assert (await session.scalar(select(UploadToken.used_at))) is None


async def test_a_failure_during_the_import_stores_nothing(db, runner, zalo, web, monkeypatch):
    """The page took the file; the import job fails after writing every row: it is all rolled
    back, and the admin is told in the chat."""
    link = await ask_link(runner, zalo)
    data = await snapshot(db)

    def broken(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise RuntimeError("injected after the rows were written")

    # The summary is worded after the import wrote every row, in the same unit of work.
    monkeypatch.setattr("handlers.admin.importing.summary_text", broken)
    response = await posted(runner, web, link, files=xlsx("du-lieu.xlsx", workbook(CLEAN)))

    assert response.status_code == 200 and "Đã nhận tệp «du-lieu.xlsx»" in page_text(response)
    assert zalo.texts(ADMIN)[-1] == T("job-failed")
    assert (await stored(db))["models"] == []
    after = await snapshot(db)
    # Only the link changed (used, so the same link never imports twice), and the count of
    # messages sent against Zalo's quota.
    changed = {"upload_tokens", "channel_usage"}
    assert {k: v for k, v in after.items() if k not in changed} == {
        k: v for k, v in data.items() if k not in changed
    }
    async with db.session() as session:
        assert (await session.scalars(select(BackgroundJob.status))).all() == ["failed"]
    async with db.session() as session:
        assert (await session.scalar(select(UploadToken.used_at))) is not None


async def test_a_link_is_used_once_when_two_uploads_race(db, clock):
    async with db.session() as session:
        identity = await get_or_create_identity(
            session, channel="zalo", external_id="x", chat_id="x", display_name=None, now=clock()
        )
        await create_upload(
            session,
            member_id=identity.member_id,
            identity_id=identity.id,
            purpose=WORKBOOK_IMPORT,
            now=clock(),
        )
        row_id = await session.scalar(select(UploadToken.id))
    async with db.session() as first, db.session() as second:
        assert await use_upload(first, upload_id=row_id, now=clock())
        await first.commit()
        assert not await use_upload(second, upload_id=row_id, now=clock())
