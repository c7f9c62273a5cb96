"""The Zalo channel in polling mode against the fake Zalo Bot API: what a person writes reaches
the core and the answer comes back as Zalo messages (numbered options, 2,000 characters), the
outbox keeps what Zalo refuses with 429, a group gets one line, and no log shows the token."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import select

from bot.channels import ZALO, channels_of
from bot.sender import Sender
from bot.zalo.api import ZaloApi
from bot.zalo.delivery import zalo_transport
from bot.zalo.runner import ZaloRunner, serve
from handlers.core.types import Outbound
from language.texts import Texts
from storage import models, outbox, rules
from storage.records.invites import create_invite
from storage.records.people import get_or_create_identity
from storage.records.units import add_unit
from tests.fakezalo import TOKEN, FakeZalo

T = Texts("vi")


@pytest.fixture
def zalo() -> FakeZalo:
    return FakeZalo()


@pytest.fixture
async def api(zalo: FakeZalo):  # type: ignore[no-untyped-def]
    client = httpx.AsyncClient(transport=zalo.transport())
    yield ZaloApi(TOKEN, api_url="https://zalo.test", client=client)
    await client.aclose()


@pytest.fixture
def runner(core, api) -> ZaloRunner:  # type: ignore[no-untyped-def]
    return ZaloRunner(core, api)


async def step(runner: ZaloRunner, zalo: FakeZalo, user: str, text: str) -> list[str]:
    """The person writes; one poll takes it and the bot answers. Returns the answer's texts."""
    before = len(zalo.texts(user))
    zalo.queue_text(user, text, name="Nguyễn Thị Lan")
    update = await runner.api.get_update(poll_seconds=1)
    assert update is not None
    await runner.handle(update)
    return zalo.texts(user)[before:]


async def test_start_is_answered(runner, zalo):
    answer = await step(runner, zalo, "u1", "/start")
    assert answer and answer[0].startswith(T("start-no-invite")[:30])


async def test_a_form_with_choices_is_answered_by_number(core, db, runner, zalo, clock):
    async with db.session() as session:
        unit = await add_unit(
            session, code="CB-VP", name="Chi bộ Văn phòng", parent_id=None, now=clock()
        )
        invite = await create_invite(
            session,
            unit_id=unit.id,
            role=rules.ROLE_MEMBER,
            expires_at=clock() + timedelta(days=7),
            max_uses=10,
            created_by=None,
            now=clock(),
        )
        code = invite.code
    answer = await step(runner, zalo, "u1", f"/start {code}")
    assert f"[1] {T('button-consent-yes')}" in answer[0]  # the personal-data notice first
    answer = await step(runner, zalo, "u1", "1")
    assert any("Chi bộ Văn phòng" in text for text in answer)
    answer = await step(runner, zalo, "u1", "Nguyễn Thị Lan")
    # No buttons on Zalo: the options are numbered lines under the question.
    assert T("ask-category") in answer[-1] and f"[3] {T('category-cong_chuc')}" in answer[-1]
    answer = await step(runner, zalo, "u1", "3")
    assert T("ask-phone") in answer[-1]
    async with db.session() as session:
        conversation = (await session.execute(select(models.Conversation))).scalar_one()
        assert "cong_chuc" in str(conversation.state)  # the option, not the text "3"


async def test_a_long_reply_arrives_split(runner, zalo):
    text = "\n".join(f"Dòng {i}: " + "x" * 90 for i in range(50))  # about 5.000 characters
    await runner.say("u1", Outbound(text))
    parts = zalo.texts("u1")
    assert len(parts) == 3 and all(len(part) <= 2000 for part in parts)
    assert "\n".join(parts) == text


async def test_quota_exceeded_leaves_the_outbox_message_queued(core, db, api, zalo, clock):
    async with db.session() as session:
        identity = await get_or_create_identity(
            session, channel=ZALO, external_id="u1", chat_id="u1", display_name="Lan", now=clock()
        )
        await outbox.enqueue(
            session,
            key="reminder:1",
            member_id=identity.member_id,
            payload={"text": "Nhắc: báo cáo tiến độ"},
            now=clock(),
        )

    async def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)

    sender = Sender.for_channel(
        db, channels_of(core)[ZALO], zalo_transport(api), clock=clock, sleep=sleep
    )
    zalo.refuse.add("sendMessage")
    assert await sender.run_once() == 0
    async with db.session() as session:
        row = (await session.execute(select(models.OutboxMessage))).scalar_one()
        assert row.status == outbox.PENDING and row.attempts == 0
    zalo.refuse.clear()
    clock.advance(seconds=3600)
    assert await sender.run_once() == 1
    assert zalo.texts("u1") == ["Nhắc: báo cáo tiến độ"]


async def test_a_group_gets_one_line(runner, zalo):
    zalo.queue(zalo.in_group(zalo.event("message.text.received", "u1", "Lan", text="/start"), "g1"))
    await runner.handle(await runner.api.get_update(poll_seconds=1))
    zalo.queue(zalo.in_group(zalo.event("message.text.received", "u1", "Lan", text="chào"), "g1"))
    await runner.handle(await runner.api.get_update(poll_seconds=1))
    assert zalo.texts("g1") == [T("group-not-supported")]
    assert zalo.texts("u1") == []


async def test_a_sticker_gets_a_polite_answer(runner, zalo):
    zalo.queue(zalo.event("message.sticker.received", "u1", "Lan", sticker="s1"))
    await runner.handle(await runner.api.get_update(poll_seconds=1))
    assert zalo.texts("u1") == [T("zalo-sticker-not-read")]


async def test_polling_answers_and_stops_and_logs_no_token(core, settings, zalo, caplog):
    caplog.set_level(logging.DEBUG)
    zalo.hold_idle = 5.0  # an idle poll is held, as the real one is: no busy loop
    settings = settings.model_copy(
        update={"zalo_token": SecretStr(TOKEN), "zalo_api_url": "https://zalo.test"}
    )
    stop = asyncio.Event()
    client = httpx.AsyncClient(transport=zalo.transport())
    serving = asyncio.create_task(serve(settings, core, stop, client=client))
    zalo.queue_text("u1", "/start")
    await asyncio.wait(
        [serving, asyncio.ensure_future(zalo.delivered.wait())],
        timeout=10,
        return_when=asyncio.FIRST_COMPLETED,
    )
    stop.set()
    await asyncio.wait_for(serving, 10)
    await client.aclose()
    assert zalo.texts("u1")[0].startswith(T("start-no-invite")[:30])
    assert "getUpdates" in caplog.text or "HTTP Request" not in caplog.text
    assert TOKEN not in caplog.text


def test_the_httpx_request_log_never_shows_the_token(caplog):
    caplog.set_level(logging.INFO, logger="httpx")
    logging.getLogger("httpx").info(
        'HTTP Request: %s %s "%s"', "POST", f"https://zalo.test/bot{TOKEN}/getUpdates", "200 OK"
    )
    assert "getUpdates" in caplog.text and TOKEN not in caplog.text


async def test_dvk_run_serves_zalo_alone_until_sigterm(core, settings, zalo, monkeypatch, caplog):
    import os
    import signal

    from bot import telegram_run
    from bot.zalo import runner

    zalo.hold_idle = 5.0
    client = httpx.AsyncClient(transport=zalo.transport())
    real_serve = runner.serve
    monkeypatch.setattr(
        runner, "serve", lambda s, c, stop, **kw: real_serve(s, c, stop, client=client, **kw)
    )
    settings = settings.model_copy(update={"telegram_token": None, "zalo_token": SecretStr(TOKEN)})
    # Not in the test process: what it holds now would never be freed.
    frozen: list[int] = []
    monkeypatch.setattr(telegram_run, "freeze_startup", lambda: frozen.append(1) or 0)
    serving = asyncio.create_task(
        telegram_run.serve_channels(settings, core, sock=None, telegram=False)
    )
    zalo.queue_text("u1", "/start")
    await asyncio.wait(
        [serving, asyncio.ensure_future(zalo.delivered.wait())],
        timeout=10,
        return_when=asyncio.FIRST_COMPLETED,
    )
    os.kill(os.getpid(), signal.SIGTERM)
    await asyncio.wait_for(serving, 10)
    await client.aclose()
    assert zalo.texts("u1")[0].startswith(T("start-no-invite")[:30])
    assert frozen == [1]  # what start-up loaded, out of the collector's passes, once
    # No DVK_PUBLIC_URL: the operator is told what Zalo users will miss.
    assert "Zalo without DVK_PUBLIC_URL" in caplog.text


JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


async def test_a_photo_is_kept_in_the_media_store_at_once(runner, zalo, monkeypatch):
    # Zalo's picture URLs expire: the runner downloads the picture when the update arrives.
    import bot.zalo.runner as zalo_runner
    from bot.media_links import store_photo_from_url

    pictures = {"https://cdn.zalo.test/a.jpg": JPEG}

    def serve(request: httpx.Request) -> httpx.Response:
        body = pictures.get(str(request.url))
        return httpx.Response(200, content=body) if body else httpx.Response(404)

    async def fetch(media, url):  # type: ignore[no-untyped-def]
        async with httpx.AsyncClient(transport=httpx.MockTransport(serve)) as client:
            return await store_photo_from_url(media, url, client=client)

    monkeypatch.setattr(zalo_runner, "store_photo_from_url", fetch)
    media = channels_of(runner.core).media
    for url in ("https://cdn.zalo.test/a.jpg", "https://cdn.zalo.test/gone.jpg"):
        zalo.queue(zalo.event("message.image.received", "u1", "Lan", photo_url=url))
        update = await runner.api.get_update(poll_seconds=1)
        inbound = None
        try:
            inbound = await runner.inbound(update)
        except zalo_runner.MediaRefused as refused:
            assert refused.key == "media-photo-failed"
        if url.endswith("a.jpg"):
            assert inbound is not None and inbound.attachment == "photo" and inbound.numbered
            assert await media.store.get(inbound.media_key) == JPEG
    # The refused one is answered with its reason, and nothing reaches the core.
    zalo.queue(zalo.event("message.image.received", "u1", "Lan", photo_url=url))
    await runner.handle(await runner.api.get_update(poll_seconds=1))
    assert zalo.texts("u1")[-1] == T("media-photo-failed")


async def test_a_long_reply_is_split_between_paragraphs(runner, zalo):
    paragraph = "\n".join(f"Dòng {i}: " + "y" * 90 for i in range(12))  # about 1.200 characters
    text = f"{paragraph}\n\n{paragraph}\n\n{paragraph}"
    await runner.say("u1", Outbound(text))
    # Two paragraphs would fit in 2.000 characters by lines; each arrives whole instead.
    assert zalo.texts("u1") == [paragraph, paragraph, paragraph]


def test_a_line_longer_than_a_message_is_cut_between_words():
    from bot.delivery import chunks

    words = " ".join(["lời"] * 1000)  # 3.999 characters, no line break
    parts = chunks(words, 2000)
    assert all(len(part) <= 2000 for part in parts) and " ".join(parts) == words
    assert all(not part.startswith(" ") and not part.endswith(" ") for part in parts)
    assert chunks("x" * 4500, 2000) == ["x" * 2000, "x" * 2000, "x" * 500]


async def test_an_outbox_picture_goes_as_a_link_when_the_bot_has_a_public_address(
    settings, db, api, zalo, clock
):
    # A digest's chart: sent as a signed link Zalo fetches, not refused as "cannot be shown".
    import base64

    from bot.runtime import build_core
    from bot.zalo.runner import outbox_sender

    png = b"\x89PNG\r\n\x1a\n" + bytes(64)
    linked = settings.model_copy(
        update={"public_url": "https://dvk.example.org", "link_secret": SecretStr("s" * 32)}
    )
    core = build_core(linked, db, clock)
    async with db.session() as session:
        identity = await get_or_create_identity(
            session, channel=ZALO, external_id="u1", chat_id="u1", display_name="Lan", now=clock()
        )
        await outbox.enqueue(
            session,
            key="digest:1",
            member_id=identity.member_id,
            payload={"text": "📊 Tóm tắt", "photo": base64.b64encode(png).decode()},
            now=clock(),
        )
    fetched = []

    async def fetch(url: str) -> tuple[int, bytes]:
        fetched.append(url)
        return 200, png

    zalo.fetch = fetch

    async def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)

    assert await outbox_sender(core, api, sleep=sleep).run_once() == 1
    [photo] = [s.params["photo"] for s in zalo.sent if s.method == "sendPhoto"]
    assert photo.startswith("https://dvk.example.org/media/") and fetched == [photo]
    assert zalo.texts("u1") == ["📊 Tóm tắt"]
