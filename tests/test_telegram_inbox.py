"""Telegram's webhook and the durable inbox: updates are posted to the bot's real HTTP app
(through an ASGI transport), recorded, and handed by the real inbox worker to the real
Application; the tests read what the recording Bot API was sent and what the inbox table holds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError
from telegram import Update
from telegram.ext import Application

from bot.config import Settings
from bot.http import make_app
from bot.inbox import MAX_ATTEMPTS, Payload, Within
from bot.telegram.inbox import TelegramInbox
from bot.telegram_run import serve, webhook_route
from handlers.core.router import Core
from language.texts import Texts
from storage import inbox
from storage.db import Database
from storage.inbox import InboxUpdate
from storage.models import Identity
from tests.botapi import RecordingRequest
from tests.conftest import TOKEN
from tests.fakebotapi import FakeBotApi, running
from tests.test_webhook import HEADER, SECRET, STEP_TIMEOUT, free_port, start_update

T = Texts("vi")
PATH = "/telegram"
ANNA, BINH = 555, 777


class NotingInbox(TelegramInbox):
    """The real inbox, noting the update ids in the order they reach the Application."""

    order: list[int]

    async def handle(self, payload: Payload, mark: Within) -> None:
        self.order.append(payload["update_id"])
        await super().handle(payload, mark)


@pytest.fixture
def tg_inbox(app: Application) -> NotingInbox:
    made = NotingInbox(app)
    made.order = []
    return made


@pytest.fixture
async def client(tg_inbox: NotingInbox) -> AsyncIterator[httpx.AsyncClient]:
    server = make_app([webhook_route(tg_inbox, path=PATH, secret=SECRET)])
    transport = httpx.ASGITransport(server)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as made:
        yield made


def text_update(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    body = start_update(update_id)
    person = {"id": user_id, "first_name": "Năm"}
    body["message"]["chat"] |= person
    body["message"]["from"] |= person
    body["message"]["text"] = text
    if text.startswith("/"):
        command = text.split()[0]
        body["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
    else:
        del body["message"]["entities"]
    return body


async def post(client: httpx.AsyncClient, body: dict[str, Any]) -> int:
    response = await client.post(PATH, json=body, headers={HEADER: SECRET})
    return response.status_code


async def rows(db: Database) -> list[InboxUpdate]:
    async with db.session() as session:
        return list((await session.scalars(select(InboxUpdate).order_by(InboxUpdate.id))).all())


async def identities(db: Database) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count()).select_from(Identity)) or 0)


def texts_to(api: RecordingRequest, user_id: int) -> list[str]:
    return [call.params["text"] for call in api.sent(user_id)]


def greetings(api: RecordingRequest, user_id: int) -> int:
    # A stranger's /start is answered with the personal-data notice, which greets first.
    return sum(text.startswith(T("consent-hello")) for text in texts_to(api, user_id))


# --- the webhook's door ----------------------------------------------------------------------


@pytest.mark.parametrize("headers", [{}, {HEADER: "nope"}, {HEADER: SECRET + "x"}])
async def test_a_missing_or_wrong_secret_is_refused_and_nothing_stored(
    client: httpx.AsyncClient, db: Database, headers: dict[str, str]
) -> None:
    response = await client.post(PATH, json=start_update(1), headers=headers)
    assert response.status_code == 403
    assert await rows(db) == []


async def test_an_update_is_recorded_before_the_200_and_handled_after(
    client: httpx.AsyncClient, tg_inbox: NotingInbox, db: Database, api: RecordingRequest
) -> None:
    assert await post(client, start_update(41)) == 200
    (row,) = await rows(db)
    assert (row.channel, row.message_id, row.person, row.status) == (
        "telegram",
        "41",
        str(ANNA),
        "pending",
    )
    assert texts_to(api, ANNA) == []  # answered 200, not handled yet
    assert await tg_inbox.worker().drain() == 1
    assert greetings(api, ANNA) == 1
    (row,) = await rows(db)
    assert (row.status, row.attempts) == ("handled", 1)


async def test_a_redelivery_is_answered_200_and_handled_once(
    client: httpx.AsyncClient, tg_inbox: NotingInbox, db: Database, api: RecordingRequest
) -> None:
    assert [await post(client, start_update(5)) for _ in range(2)] == [200, 200]
    assert len(await rows(db)) == 1
    await tg_inbox.worker().drain()
    assert await post(client, start_update(5)) == 200  # after it was handled, too
    assert await tg_inbox.worker().drain() == 0
    assert greetings(api, ANNA) == 1
    assert tg_inbox.order == [5]


async def test_a_database_that_fails_answers_503_and_telegram_delivers_again(
    client: httpx.AsyncClient,
    tg_inbox: NotingInbox,
    db: Database,
    api: RecordingRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = inbox.record
    failures = [OperationalError("INSERT", {}, Exception("the database went away"))]

    async def record_once_failing(session, **kwargs):  # type: ignore[no-untyped-def]
        if failures:
            raise failures.pop()
        return await real(session, **kwargs)

    monkeypatch.setattr(inbox, "record", record_once_failing)
    assert await post(client, start_update(9)) == 503
    assert await rows(db) == []
    assert await post(client, start_update(9)) == 200  # Telegram's retry
    await tg_inbox.worker().drain()
    assert greetings(api, ANNA) == 1


# --- the worker ------------------------------------------------------------------------------


async def test_each_persons_updates_are_handled_in_the_order_they_came(
    client: httpx.AsyncClient, tg_inbox: NotingInbox, api: RecordingRequest
) -> None:
    # Telegram numbers updates in its own order; the inbox keeps the order they arrived in.
    sent = [
        text_update(30, ANNA, "/start"),
        text_update(10, BINH, "/start"),
        text_update(20, ANNA, "/help"),
        text_update(11, ANNA, "/khongco"),
    ]
    for body in sent:
        assert await post(client, body) == 200
    assert await tg_inbox.worker().drain() == 4
    # Anna's in the order they came; Binh's beside them.
    assert [n for n in tg_inbox.order if n != 10] == [30, 20, 11] and 10 in tg_inbox.order
    answers = texts_to(api, ANNA)
    assert answers[0].startswith(T("consent-hello"))
    assert answers[-1] == T("unknown-command", command="khongco")
    assert greetings(api, BINH) == 1


async def test_handled_is_written_in_the_handlers_unit_of_work(
    client: httpx.AsyncClient,
    tg_inbox: NotingInbox,
    db: Database,
    api: RecordingRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the mark cannot be written, the handler's writes go with it: the identity /start
    made is rolled back; the person is told by the error handler and the row kept as failed."""
    await post(client, start_update(3))
    real = inbox.mark_handled
    broken = [OperationalError("UPDATE", {}, Exception("the disk is full"))]

    async def failing_mark(session, **kwargs):  # type: ignore[no-untyped-def]
        if broken:
            raise broken.pop()
        return await real(session, **kwargs)

    monkeypatch.setattr(inbox, "mark_handled", failing_mark)
    await tg_inbox.worker().drain()
    (row,) = await rows(db)
    assert (row.status, row.attempts) == ("failed", 1)
    assert "the disk is full" in (row.error or "")
    assert await identities(db) == 0
    assert texts_to(api, ANNA) == [T("error-internal")]


async def test_a_failing_handler_is_told_once_and_does_not_hold_up_the_next(
    client: httpx.AsyncClient,
    tg_inbox: NotingInbox,
    core: Core,
    db: Database,
    api: RecordingRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = core.handle
    broken = [RuntimeError("the handler broke")]

    async def handle_once_failing(inbound, **kwargs):  # type: ignore[no-untyped-def]
        # Anna's update breaks; Binh's runs beside it (it may well begin first).
        if broken and inbound.external_id == str(ANNA):
            raise broken.pop()
        return await real(inbound, **kwargs)

    monkeypatch.setattr(core, "handle", handle_once_failing)
    await post(client, text_update(1, ANNA, "/start"))
    await post(client, text_update(2, BINH, "/start"))
    assert await tg_inbox.worker().drain() == 2
    first, second = await rows(db)
    assert (first.status, first.attempts) == ("failed", 1)
    assert "the handler broke" in (first.error or "")
    assert texts_to(api, ANNA) == [T("error-internal")]
    assert second.status == "handled" and greetings(api, BINH) == 1


async def test_an_update_that_stopped_the_process_every_time_is_given_up(
    client: httpx.AsyncClient, tg_inbox: NotingInbox, db: Database, api: RecordingRequest
) -> None:
    await post(client, start_update(8))
    async with db.session() as session:
        # Begun that often, never finished: each attempt took the process down with it.
        await session.execute(update(InboxUpdate).values(attempts=MAX_ATTEMPTS))
    await tg_inbox.worker().drain()
    assert tg_inbox.order == []
    assert [r.status for r in await rows(db)] == ["failed"]
    assert texts_to(api, ANNA) == [T("error-internal")]


async def test_an_update_recorded_before_a_crash_is_handled_at_the_restart(
    client: httpx.AsyncClient,
    tg_inbox: NotingInbox,
    settings: Settings,
    core: Core,
    db: Database,
    api: RecordingRequest,
) -> None:
    assert await post(client, start_update(12)) == 200  # recorded; then the process died
    with running(FakeBotApi(token=TOKEN)) as fake:
        restarted = settings.model_copy(
            update={
                "telegram_api_url": fake.url,
                "webhook_url": "https://bot.example.invalid/telegram",
                "webhook_secret": SecretStr(SECRET),
                "http_listen": "127.0.0.1",
                "http_port": free_port(),
            }
        )
        stop = asyncio.Event()
        serving = asyncio.create_task(serve(restarted, core, stop=stop))
        try:
            # Nothing is posted to the restarted bot: the pending row alone is answered.
            await asyncio.to_thread(
                fake.wait_for,
                lambda: [m for m in fake.sent if m["text"].startswith(T("consent-hello"))],
                STEP_TIMEOUT,
                "the answer to the recorded /start",
            )
        finally:
            stop.set()
            await asyncio.wait_for(serving, STEP_TIMEOUT)
        assert not fake.errors, fake.errors
    assert [r.status for r in await rows(db)] == ["handled"]
    # And a handled update is never repeated.
    assert await tg_inbox.worker().drain() == 0
    assert texts_to(api, ANNA) == []


async def test_an_update_parsed_from_its_row_is_the_update_that_was_posted(
    client: httpx.AsyncClient, app: Application, db: Database
) -> None:
    body = text_update(77, BINH, "Nguyễn Văn Bình")
    await post(client, body)
    (row,) = await rows(db)
    parsed = Update.de_json(row.payload, app.bot)
    assert parsed is not None and parsed.to_dict() == Update.de_json(body, app.bot).to_dict()
    assert row.person == str(BINH)


# --- an answer cut off by a crash ------------------------------------------------------------


def killed_before_the_answer(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The process stops (SIGKILL) right after the first update's unit of work committed, before
    its answer went out: the adapter's delivery is cancelled, as a dead process would be."""
    from bot.telegram import adapter

    real = adapter.deliver
    kills = [1]

    async def deliver(app: Application, chat_id: str | int, result: Any) -> None:
        if kills:
            kills.pop()
            raise asyncio.CancelledError  # nothing after the commit runs
        await real(app, chat_id, result)

    monkeypatch.setattr(adapter, "deliver", deliver)
    return kills


async def test_an_answer_a_crash_kept_from_going_out_is_sent_at_the_restart_once(
    client: httpx.AsyncClient,
    tg_inbox: NotingInbox,
    db: Database,
    api: RecordingRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    kills = killed_before_the_answer(monkeypatch)
    await post(client, text_update(1, ANNA, "/start"))
    await post(client, text_update(2, ANNA, "/khongco"))
    await tg_inbox.worker().drain()
    assert kills == []
    assert texts_to(api, ANNA) == []  # committed, never answered: the window of issue 13
    first, second = await rows(db)
    assert (first.status, second.status) == ("replying", "pending")
    assert first.reply is not None and await identities(db) == 1  # its effects are kept
    # The restart: the kept answer first, then the person's next update, each once.
    assert await tg_inbox.worker().drain() == 2
    answers = texts_to(api, ANNA)
    assert greetings(api, ANNA) == 1 and answers[0].startswith(T("consent-hello"))
    assert answers[-1] == T("unknown-command", command="khongco")
    assert answers.count(T("unknown-command", command="khongco")) == 1
    assert tg_inbox.order == [1, 2]  # the first was handled once: only its answer was sent again
    assert [(r.status, r.reply) for r in await rows(db)] == [("handled", None)] * 2
    assert await tg_inbox.worker().drain() == 0
    assert len(texts_to(api, ANNA)) == len(answers)


async def test_an_ordinary_answer_is_sent_at_once_and_not_kept(
    client: httpx.AsyncClient, tg_inbox: NotingInbox, db: Database, api: RecordingRequest
) -> None:
    await post(client, text_update(1, ANNA, "/khongco"))
    assert await tg_inbox.worker().drain() == 1
    assert texts_to(api, ANNA) == [T("unknown-command", command="khongco")]
    (row,) = await rows(db)
    assert (row.status, row.reply, row.attempts) == ("handled", None, 1)


async def test_an_answer_that_stopped_the_process_every_time_is_given_up(
    client: httpx.AsyncClient,
    tg_inbox: NotingInbox,
    db: Database,
    api: RecordingRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    killed_before_the_answer(monkeypatch)
    await post(client, text_update(1, ANNA, "/khongco"))
    await tg_inbox.worker().drain()
    async with db.session() as session:
        # Sent again that often, never settled: each try took the process down with it.
        await session.execute(update(InboxUpdate).values(attempts=1 + MAX_ATTEMPTS))
    assert await tg_inbox.worker().drain() == 1
    assert texts_to(api, ANNA) == []
    assert [(r.status, r.reply) for r in await rows(db)] == [("handled", None)]
