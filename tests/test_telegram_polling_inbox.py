"""Telegram's polling mode through the durable inbox: the project's own long poll
(bot/telegram/polling.py) against a recording Bot API whose getUpdates the test scripts, the real
inbox and its real worker handing the updates to the real Application; and the whole of `serve`
polling a fake Bot API over HTTP. The tests read what the inbox table holds, which offsets were
asked for, and what the bot sent."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
from sqlalchemy import select
from telegram.error import InvalidToken
from telegram.ext import Application
from telegram.request import RequestData

from bot.config import Settings
from bot.inbox import MAX_BACKOFF, Payload, Within
from bot.telegram.adapter import ALLOWED_UPDATES
from bot.telegram.inbox import TelegramInbox
from bot.telegram.polling import TelegramPoller
from bot.telegram_run import serve
from handlers.core.router import Core
from language.texts import Texts
from storage.db import Database
from storage.inbox import InboxUpdate
from tests.botapi import Call, RecordingRequest
from tests.conftest import TOKEN
from tests.fakebotapi import FakeBotApi, running
from tests.test_webhook import STEP_TIMEOUT, start_update

T = Texts("vi")
ANNA, BINH = 555, 777

# One answer of getUpdates, given its parameters: the updates, or an exception to raise.
Poll = Callable[[dict[str, Any]], Awaitable[list[dict[str, Any]] | BaseException]]


class PollingRequest(RecordingRequest):
    """The recording Bot API, with getUpdates answered by the test's `polls`, one per call, in
    order; a getUpdates with none left waits as a long poll with nothing new does (until it is
    cancelled)."""

    def __init__(self) -> None:
        super().__init__()
        self.polls: list[Poll] = []
        self.waiting = asyncio.Event()  # a getUpdates waits with nothing to give

    async def do_request(
        self,
        url: str,
        method: str,
        request_data: RequestData | None = None,
        read_timeout: Any = None,
        write_timeout: Any = None,
        connect_timeout: Any = None,
        pool_timeout: Any = None,
    ) -> tuple[int, bytes]:
        if not url.endswith("/getUpdates"):
            return await super().do_request(url, method, request_data)
        params = dict(request_data.parameters) if request_data else {}
        self.calls.append(Call("getUpdates", params))
        if not self.polls:
            self.waiting.set()
            await asyncio.Event().wait()  # cancelled by the stop
        answer = await self.polls.pop(0)(params)
        if isinstance(answer, BaseException):
            raise answer
        return 200, json.dumps({"ok": True, "result": answer}).encode()

    def offsets(self) -> list[int | None]:
        return [c.params.get("offset") for c in self.calls if c.method == "getUpdates"]


@pytest.fixture
def api() -> PollingRequest:
    return PollingRequest()


class NotingInbox(TelegramInbox):
    """The real inbox, noting the update ids in the order they reach the Application."""

    order: list[int]

    async def handle(self, payload: Payload, mark: Within) -> None:
        self.order.append(payload["update_id"])
        await super().handle(payload, mark)


def noting(app: Application) -> NotingInbox:
    made = NotingInbox(app)
    made.order = []
    return made


def gives(*updates: dict[str, Any]) -> Poll:
    async def poll(params: dict[str, Any]) -> list[dict[str, Any]]:
        return list(updates)

    return poll


def text_update(update_id: int, user_id: int, text: str) -> dict[str, Any]:
    body = start_update(update_id)
    person = {"id": user_id, "first_name": "Năm"}
    body["message"]["chat"] |= person
    body["message"]["from"] |= person
    body["message"]["text"] = text
    if not text.startswith("/"):
        del body["message"]["entities"]
    return body


async def rows(db: Database) -> list[InboxUpdate]:
    async with db.session() as session:
        return list((await session.scalars(select(InboxUpdate).order_by(InboxUpdate.id))).all())


def greetings(api: RecordingRequest, user_id: int) -> int:
    texts = [call.params["text"] for call in api.sent(user_id)]
    # A stranger's /start is answered with the personal-data notice, which greets first.
    return sum(text.startswith(T("consent-hello")) for text in texts)


async def poll_until_waiting(poller: TelegramPoller, api: PollingRequest) -> None:
    """Run the poller until it waits on a getUpdates with nothing to give, then stop it."""
    stop = asyncio.Event()
    running_poll = asyncio.create_task(poller.run(stop))
    waiting = asyncio.create_task(api.waiting.wait())
    await asyncio.wait([running_poll, waiting], return_when=asyncio.FIRST_COMPLETED)
    waiting.cancel()
    stop.set()
    await asyncio.wait_for(running_poll, STEP_TIMEOUT)
    api.waiting.clear()


# --- recorded, then confirmed ----------------------------------------------------------------


async def test_updates_are_recorded_before_the_next_offset_confirms_them(
    app: Application, api: PollingRequest, db: Database
) -> None:
    seen_at_second_poll: list[tuple[int, str]] = []

    async def second(params: dict[str, Any]) -> list[dict[str, Any]]:
        seen_at_second_poll.extend((int(r.message_id), r.status) for r in await rows(db))
        return []

    api.polls = [gives(text_update(41, ANNA, "/start"), text_update(42, BINH, "/start")), second]
    tg_inbox = noting(app)
    await poll_until_waiting(TelegramPoller(tg_inbox), api)
    # Both were in the inbox (and not yet handled: the worker did not run) when offset 43 was
    # asked for, which is what confirms them to Telegram.
    assert seen_at_second_poll == [(41, "pending"), (42, "pending")]
    assert api.offsets() == [None, 43, 43]
    first_call = next(c for c in api.calls if c.method == "getUpdates")
    assert first_call.params["allowed_updates"] == ALLOWED_UPDATES
    assert api.methods().index("deleteWebhook") < api.methods().index("getUpdates")
    assert api.sent() == []
    # The worker hands them on as in webhook mode, in the order they were recorded.
    assert await tg_inbox.worker().drain() == 2
    assert tg_inbox.order == [41, 42]
    assert [r.status for r in await rows(db)] == ["handled", "handled"]
    assert greetings(api, ANNA) == 1 and greetings(api, BINH) == 1


async def test_a_refetch_after_a_crash_is_recorded_once_and_handled_once(
    app: Application, api: PollingRequest, db: Database
) -> None:
    # Fetched and recorded, then the process died: the next offset was never asked for.
    api.polls = [gives(text_update(7, ANNA, "/start"), text_update(8, BINH, "/start"))]
    await poll_until_waiting(TelegramPoller(noting(app)), api)
    # The restart: a new poller starts without an offset, and Telegram gives the unconfirmed
    # ones again, with one that came meanwhile.
    restarted = noting(app)
    again = [text_update(7, ANNA, "/start"), text_update(8, BINH, "/start")]
    api.polls = [gives(*again, text_update(9, ANNA, "Nguyễn Văn An"))]
    await poll_until_waiting(TelegramPoller(restarted), api)
    assert api.offsets()[-2:] == [None, 10]
    assert [int(r.message_id) for r in await rows(db)] == [7, 8, 9]
    assert await restarted.worker().drain() == 3
    assert [n for n in restarted.order if n != 8] == [7, 9] and 8 in restarted.order
    assert greetings(api, ANNA) == 1 and greetings(api, BINH) == 1
    assert await restarted.worker().drain() == 0


async def test_an_update_the_database_cannot_take_is_not_confirmed_and_comes_again(
    app: Application, api: PollingRequest, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from storage import inbox

    real_record = inbox.record
    failures = [1]

    async def record_once_failing(session, **kwargs):  # type: ignore[no-untyped-def]
        if kwargs["message_id"] == "21" and failures:
            failures.pop()
            raise RuntimeError("database unavailable")
        return await real_record(session, **kwargs)

    monkeypatch.setattr(inbox, "record", record_once_failing)
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    batch = [text_update(20, ANNA, "/start"), text_update(21, BINH, "/start")]
    api.polls = [gives(*batch), gives(*batch[1:])]
    tg_inbox = noting(app)
    await poll_until_waiting(TelegramPoller(tg_inbox, sleep=sleep), api)
    # 20 was confirmed, 21 was asked for again (from offset 21), then confirmed.
    assert api.offsets() == [None, 21, 22]
    assert waits == [1.0]
    assert [int(r.message_id) for r in await rows(db)] == [20, 21]
    assert await tg_inbox.worker().drain() == 2
    assert greetings(api, BINH) == 1


# --- errors and stopping -----------------------------------------------------------------------


async def test_network_errors_back_off_doubling_up_to_a_minute(
    app: Application, api: PollingRequest, db: Database
) -> None:
    async def unreachable(params: dict[str, Any]) -> BaseException:
        return OSError("network unreachable")  # python-telegram-bot makes it a NetworkError

    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    api.polls = [unreachable] * 8 + [gives(text_update(5, ANNA, "/start")), unreachable]
    await poll_until_waiting(TelegramPoller(noting(app), sleep=sleep), api)
    # After a poll that worked, the back-off starts again at 1 s.
    assert waits == [1, 2, 4, 8, 16, 32, MAX_BACKOFF, MAX_BACKOFF, 1]
    assert MAX_BACKOFF == 60
    assert [int(r.message_id) for r in await rows(db)] == [5]
    assert api.offsets()[-1] == 6


async def test_a_stop_ends_the_long_poll_at_once(app: Application, api: PollingRequest) -> None:
    stop = asyncio.Event()
    # A long poll of an hour, with nothing to give: the stop cancels it.
    polling = asyncio.create_task(TelegramPoller(noting(app), poll_seconds=3600).run(stop))
    await asyncio.wait_for(api.waiting.wait(), STEP_TIMEOUT)
    assert [c.params["timeout"] for c in api.calls if c.method == "getUpdates"] == [3600]
    stop.set()
    await asyncio.wait_for(polling, STEP_TIMEOUT)
    assert polling.done() and polling.exception() is None


async def test_a_rejected_token_stops_polling_with_its_error(
    app: Application, api: PollingRequest
) -> None:
    async def rejected(params: dict[str, Any]) -> BaseException:
        return InvalidToken()

    api.polls = [rejected]
    with pytest.raises(InvalidToken):
        await asyncio.wait_for(TelegramPoller(noting(app)).run(asyncio.Event()), STEP_TIMEOUT)


# --- the whole of serve ------------------------------------------------------------------------


async def test_serve_in_polling_mode_records_each_update_and_answers_it(
    settings: Settings, core: Core, db: Database
) -> None:
    with running(FakeBotApi(token=TOKEN)) as fake:
        polling = settings.model_copy(update={"telegram_api_url": fake.url})
        stop = asyncio.Event()
        serving = asyncio.create_task(serve(polling, core, stop=stop))
        try:
            body = text_update(0, ANNA, "/start")
            del body["update_id"]  # the fake numbers what is pushed
            fake.push(body)
            await asyncio.to_thread(
                fake.wait_for,
                lambda: [m for m in fake.sent if m["text"].startswith(T("consent-hello"))],
                STEP_TIMEOUT,
                "the answer to the polled /start",
            )
        finally:
            stop.set()
            await asyncio.wait_for(serving, STEP_TIMEOUT)
        assert not fake.errors, fake.errors
        methods = fake.methods()
        assert methods.index("deleteWebhook") < methods.index("getUpdates")
    ((row),) = await rows(db)
    assert (row.channel, row.person, row.status) == ("telegram", str(ANNA), "handled")
