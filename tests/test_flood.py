"""The flood rule: more than 20 messages of one person within 10 seconds are answered 20 times,
then told once («Bạn gửi quá nhanh…») and ignored until the person slows down; an album counts as
one message; nobody else is slowed down. The rule itself on a table of times, then through the
real inbox worker and Application (Telegram) and runner (Zalo), on the core's clock."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Update
from telegram.ext import Application

from bot.demo import seed
from bot.telegram.inbox import TelegramInbox
from bot.updates.flood import FloodRule, Verdict
from handlers.core.consent import NOTICE_VERSION
from language.texts import Texts
from storage.db import Database
from storage.models import Conversation, Identity
from tests.botapi import JPEG, RecordingRequest
from tests.conftest import Clock
from tests.test_telegram_inbox import ANNA, BINH, greetings, rows, text_update, texts_to

T = Texts("vi")
T0 = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
NOTICE = T("flood-too-fast")
NAME_QUESTION = "Họ và tên của bạn?"


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


# --- the rule --------------------------------------------------------------------------------


def test_25_messages_in_10_seconds_are_20_handled_one_notice_and_4_ignored() -> None:
    rule = FloodRule()
    verdicts = [rule.judge("an", at(0.4 * n)) for n in range(25)]
    assert verdicts == [Verdict.HANDLE] * 20 + [Verdict.NOTICE] + [Verdict.IGNORE] * 4


def test_20_messages_in_10_seconds_are_no_flood() -> None:
    rule = FloodRule()
    assert {rule.judge("an", at(0.5 * n)) for n in range(40)} == {Verdict.HANDLE}


def test_the_flooder_is_told_at_most_once_a_minute_and_answered_after_a_pause() -> None:
    rule = FloodRule()
    verdicts = [rule.judge("an", at(0.3 * n)) for n in range(300)]  # 90 seconds of it
    notices = [n for n, verdict in enumerate(verdicts) if verdict is Verdict.NOTICE]
    assert [round(0.3 * n, 1) for n in notices] == [6.0, 66.0]
    assert rule.judge("an", at(0.3 * 299 + 0.1)) is Verdict.IGNORE
    # Four in the last 10 seconds: slowed down enough.
    assert rule.judge("an", at(0.3 * 299 + 9)) is Verdict.HANDLE


def test_an_album_counts_once_and_another_person_is_never_slowed() -> None:
    rule = FloodRule()
    assert {rule.judge("an", at(0.01 * n), album="A1") for n in range(30)} == {Verdict.HANDLE}
    # The album was one message: the 20th after it is the 21st.
    verdicts = [rule.judge("an", at(1 + 0.1 * n)) for n in range(20)]
    assert verdicts == [Verdict.HANDLE] * 19 + [Verdict.NOTICE]
    # An album begun during the flood is ignored whole, without another notice.
    assert {rule.judge("an", at(3.2), album="A2") for _ in range(5)} == {Verdict.IGNORE}
    assert rule.judge("binh", at(3.3)) is Verdict.HANDLE


def test_people_who_went_quiet_are_forgotten() -> None:
    rule = FloodRule()
    for n in range(999):
        rule.judge(f"p{n}", at(0))
    assert rule.people == 999
    rule.judge("late", at(61))  # the thousandth judgement forgets who went quiet
    assert rule.people == 1


# --- on Telegram, through the inbox ----------------------------------------------------------


@pytest.fixture
async def seeded(db: Database, clock: Clock) -> None:
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())


class CountingInbox(TelegramInbox):
    reached: list[int]

    async def handle(self, payload: dict[str, Any], mark: Any) -> None:
        self.reached.append(payload["update_id"])
        await super().handle(payload, mark)


@pytest.fixture
def box(app: Application) -> CountingInbox:
    made = CountingInbox(app)
    made.reached = []
    return made


AGREE = f"cs:y:{NOTICE_VERSION}:DEMOTV"  # «Đồng ý» under the notice of the invite DEMO-TV


def press_update(number: int, person: int, data: str) -> dict[str, Any]:
    """A button pressed under a message the bot sent."""
    user = {"id": person, "is_bot": False, "first_name": "Năm"}
    message = {
        "message_id": 9000 + number,
        "date": 0,
        "chat": {"id": person, "type": "private"},
        "text": "…",
    }
    return {
        "update_id": number,
        "callback_query": {
            "id": f"cq-{number}",
            "from": user,
            "chat_instance": "ci",
            "data": data,
            "message": message,
        },
    }


async def record(box: TelegramInbox, body: dict[str, Any]) -> None:
    assert await box.record(Update.de_json(body, box.application.bot), body)


def photo_update(number: int, person: int, album: str | None) -> dict[str, Any]:
    body = text_update(number, person, "x")
    del body["message"]["text"]
    body["message"]["photo"] = [
        {"file_id": "AgAD", "file_unique_id": "u-AgAD", "width": 90, "height": 90}
    ]
    if album is not None:
        body["message"]["media_group_id"] = album
    return body


async def conversation_text(db: Database, person: int) -> str:
    async with db.session() as session:
        identity = await session.scalar(select(Identity).where(Identity.external_id == str(person)))
        assert identity is not None
        conv = await session.get(Conversation, identity.member_id)
        assert conv is not None
        return json.dumps(conv.state, ensure_ascii=False)


async def test_a_flood_is_answered_20_times_told_once_and_the_rest_ignored(
    seeded: None,
    box: CountingInbox,
    clock: Clock,
    db: Database,
    api: RecordingRequest,
) -> None:
    # Anna opens an invite and agrees to the personal-data notice (the form asks her name),
    # then sends 23 more within 10 seconds.
    sent = ["/start DEMO-TV", AGREE] + ["/help"] * 18 + ["Nguyễn Văn An"] * 5
    for number, text in enumerate(sent, start=1):
        body = (
            press_update(number, ANNA, text) if text == AGREE else text_update(number, ANNA, text)
        )
        await record(box, body)
        if number == 12:
            await record(box, text_update(100, BINH, "/start"))  # Binh, in the middle of it
        clock.advance(seconds=0.4)
    worker = box.worker()
    await worker.drain()
    assert sorted(n for n in box.reached if n != 100) == list(range(1, 21))
    assert greetings(api, BINH) == 1 and 100 in box.reached
    answers = texts_to(api, ANNA)
    assert answers.count(NOTICE) == 1
    # Her name was not read: the question is asked again right after the notice.
    assert answers[-2:] == [NOTICE, NAME_QUESTION]
    assert "Nguyễn Văn An" not in await conversation_text(db, ANNA)
    recorded = {int(r.message_id): r for r in await rows(db)}
    assert {r.status for r in recorded.values()} == {"handled"}  # nothing left to replay
    assert [recorded[n].attempts for n in range(21, 26)] == [0] * 5

    # After the window she is answered again: her name is read, the form goes on.
    clock.advance(seconds=11)
    await record(box, text_update(26, ANNA, "Nguyễn Văn An"))
    await worker.drain()
    assert texts_to(api, ANNA)[-1] == "Bạn là:"
    assert texts_to(api, ANNA).count(NOTICE) == 1
    assert "Nguyễn Văn An" in await conversation_text(db, ANNA)


async def test_an_album_of_30_photos_is_not_a_flood_but_30_single_photos_are(
    box: CountingInbox, api: RecordingRequest, db: Database
) -> None:
    api.files["AgAD"] = JPEG
    for number in range(1, 31):
        await record(box, photo_update(number, ANNA, album="13572468"))
        await record(box, photo_update(100 + number, BINH, album=None))
    await box.worker().drain()
    anna = texts_to(api, ANNA)
    assert NOTICE not in anna and len(anna) == 30
    assert set(anna) == {T("error-attachment-idle")}
    assert sorted(n for n in box.reached if n < 100) == list(range(1, 31))
    assert texts_to(api, BINH).count(NOTICE) == 1
    assert sorted(n for n in box.reached if n > 100) == list(range(101, 121))
    assert {r.status for r in await rows(db)} == {"handled"}
