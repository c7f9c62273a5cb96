"""Zalo's webhook and the durable inbox: the fake Zalo posts to the bot's real HTTP app (through
an ASGI transport), the real inbox worker hands the updates to the real runner and core, and the
tests read what Zalo was sent and what the inbox table holds."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from bot import http, schedules
from bot.config import Settings
from bot.inbox import InboxWorker
from bot.zalo import inbox as zalo_inbox
from bot.zalo.api import Update, ZaloApi, ZaloError
from bot.zalo.inbox import MAX_ATTEMPTS, WEBHOOK_PATH, Within, ZaloInbox
from bot.zalo.runner import ZaloRunner, serve
from language.texts import Texts
from storage import inbox
from storage.inbox import InboxUpdate
from storage.models import OutboxMessage
from tests.fakezalo import TOKEN, FakeZalo, served
from tests.test_zalo_run_process import STARTUP_TIMEOUT, STEP_TIMEOUT, zalo_environ

T = Texts("vi")
PUBLIC = "https://bot.example.vn"
SECRET = "zalo-webhook-secret-0123456789"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "telegram_token": None,
            "zalo_token": SecretStr(TOKEN),
            "zalo_api_url": "https://zalo.test",
            "public_url": PUBLIC,
            "link_secret": SecretStr("l" * 32),
            "zalo_webhook_secret": SecretStr(SECRET),
        }
    )


@pytest.fixture
def hook(core) -> ZaloInbox:  # type: ignore[no-untyped-def]
    return ZaloInbox(core)


@pytest.fixture
async def zalo(hook: ZaloInbox):  # type: ignore[no-untyped-def]
    """The fake, its webhook set to the bot's route, posting through the bot's real app."""
    fake = FakeZalo(webhook={"url": PUBLIC + WEBHOOK_PATH, "secret_token": SECRET})
    app = http.make_app([hook.route(SECRET)])
    fake.webhook_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC)
    yield fake
    await fake.webhook_client.aclose()


@pytest.fixture
async def api(zalo: FakeZalo):  # type: ignore[no-untyped-def]
    client = httpx.AsyncClient(transport=zalo.transport())
    yield ZaloApi(TOKEN, api_url="https://zalo.test", client=client)
    await client.aclose()


class Runner(ZaloRunner):
    """The real runner, noting the order updates reach it; `fail` makes the next N of
    `failing`'s updates (anyone's when None) raise: other people's run beside them."""

    order: list[str]
    fail: int = 0
    failing: str | None = None

    async def handle(self, update: Update, *, within: Within | None = None) -> None:
        self.order.append(update.message_id)
        if self.fail and self.failing in (None, update.user_id):
            self.fail -= 1
            raise RuntimeError("the handler broke")
        await super().handle(update, within=within)


@pytest.fixture
def runner(core, api) -> Runner:  # type: ignore[no-untyped-def]
    made = Runner(core, api)
    made.order = []
    return made


def worker(core, runner) -> InboxWorker:  # type: ignore[no-untyped-def]
    return zalo_inbox.worker(core, runner)


async def rows(db) -> list[InboxUpdate]:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return list((await session.scalars(select(InboxUpdate).order_by(InboxUpdate.id))).all())


def start_text() -> str:
    return T("start-no-invite")[:30]


def greetings(zalo: FakeZalo, user: str) -> int:
    """How many times `user` was greeted (a /start is answered with a few messages)."""
    return sum(text.startswith(start_text()) for text in zalo.texts(user))


# --- the webhook's door ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status"), [({}, 401), ({"X-Bot-Api-Secret-Token": "x" * 30}, 403)]
)
async def test_a_missing_or_wrong_secret_is_refused_and_nothing_stored(zalo, db, headers, status):
    response = await zalo.webhook_client.post(
        WEBHOOK_PATH, json=zalo.text_event("u1", "/start"), headers=headers
    )
    assert response.status_code == status
    assert await rows(db) == []


async def test_an_oversized_body_is_refused_before_it_is_read(zalo, db):
    big = zalo.text_event("u1", "x" * (http.MAX_BODY + 1))
    response = await zalo.webhook_client.post(
        WEBHOOK_PATH, json=big, headers={"X-Bot-Api-Secret-Token": SECRET}
    )
    assert response.status_code == 413
    assert await rows(db) == []


async def test_bare_and_wrapped_bodies_are_both_recorded_and_answered(zalo, db, core, runner):
    assert await zalo.deliver(zalo.text_event("u1", "/start")) == [200]
    assert await zalo.deliver(zalo.text_event("u2", "/start"), wrapped=True) == [200]
    recorded = await rows(db)
    assert [(r.person, r.status) for r in recorded] == [("u1", "pending"), ("u2", "pending")]
    assert recorded[1].payload["event_name"] == "message.text.received"  # stored unwrapped
    assert await worker(core, runner).drain() == 2
    assert zalo.texts("u1")[0].startswith(start_text())
    assert zalo.texts("u2")[0].startswith(start_text())
    assert [r.status for r in await rows(db)] == ["handled", "handled"]


async def test_a_redelivery_is_answered_200_and_handled_once(zalo, db, core, runner):
    event = zalo.text_event("u1", "/start")
    assert await zalo.deliver(event) == [200]
    assert await zalo.deliver(event, wrapped=True) == [200]
    assert len(await rows(db)) == 1
    await worker(core, runner).drain()
    assert await zalo.deliver(event) == [200]  # after it was handled, too
    await worker(core, runner).drain()
    assert greetings(zalo, "u1") == 1


async def test_a_database_that_fails_answers_503_and_zalo_delivers_again(
    zalo, db, core, runner, monkeypatch
):
    real = inbox.record
    failures = [OperationalError("INSERT", {}, Exception("the database went away"))]

    async def record_once_failing(session, **kwargs):  # type: ignore[no-untyped-def]
        if failures:
            raise failures.pop()
        return await real(session, **kwargs)

    monkeypatch.setattr(inbox, "record", record_once_failing)
    assert await zalo.deliver(zalo.text_event("u1", "/start")) == [503, 200]
    assert len(await rows(db)) == 1
    await worker(core, runner).drain()
    assert greetings(zalo, "u1") == 1


def test_the_webhook_secret_is_checked_in_the_settings():
    with pytest.raises(ValidationError):
        Settings(_env_file=None, zalo_webhook_secret="short")
    with pytest.raises(ValidationError):
        Settings(_env_file=None, zalo_webhook_secret="s" * 257)
    polling = Settings(_env_file=None, zalo_token=TOKEN, zalo_webhook_secret=SECRET)
    assert not polling.zalo_webhook()  # no public address: Zalo cannot reach the bot


# --- the worker ------------------------------------------------------------------------------


async def test_each_persons_updates_are_handled_in_the_order_they_came(zalo, db, core, runner):
    sent = [
        zalo.text_event("u1", "/start"),
        zalo.text_event("u2", "/start"),
        zalo.text_event("u1", "/help"),
        zalo.text_event("u1", "/khongco"),
    ]
    for event in sent:
        await zalo.deliver(event)
    await worker(core, runner).drain()
    # Each person's in the order they came; different people's side by side.
    ids = [event["message"]["message_id"] for event in sent]
    assert [m for m in runner.order if m != ids[1]] == [ids[0], ids[2], ids[3]]
    assert sorted(runner.order) == sorted(ids)
    answers = zalo.texts("u1")
    assert answers[0].startswith(start_text())
    assert answers[-1] == T("unknown-command", command="khongco")


async def test_an_update_that_keeps_failing_is_given_up_and_the_person_told(zalo, db, core, runner):
    runner.fail, runner.failing = MAX_ATTEMPTS, "u1"
    await zalo.deliver(zalo.text_event("u1", "/start"))
    await zalo.deliver(zalo.text_event("u2", "/start"))
    await worker(core, runner).drain()
    first, second = await rows(db)
    assert (first.status, first.attempts) == ("failed", MAX_ATTEMPTS)
    assert "the handler broke" in (first.error or "")
    assert zalo.texts("u1") == [T("error-internal")]
    # The next update is not held up by it.
    assert second.status == "handled" and zalo.texts("u2")[0].startswith(start_text())


async def test_an_update_that_fails_once_is_handled_on_the_next_try(zalo, db, core, runner):
    runner.fail = 1
    await zalo.deliver(zalo.text_event("u1", "/start"))
    await worker(core, runner).drain()
    (row,) = await rows(db)
    assert (row.status, row.attempts) == ("handled", 2)
    assert greetings(zalo, "u1") == 1


async def test_an_update_recorded_before_a_crash_is_handled_at_the_restart(
    zalo, db, core, api, settings
):
    await zalo.deliver(zalo.text_event("u1", "/start"))  # recorded; the process then died
    assert zalo.texts("u1") == []
    # The restart: `serve` in webhook mode handles what is pending before anything arrives.
    stop = asyncio.Event()
    client = httpx.AsyncClient(transport=zalo.transport())
    serving = asyncio.create_task(serve(settings, core, stop, client=client))
    await asyncio.wait_for(zalo.delivered.wait(), 10)
    stop.set()
    await asyncio.wait_for(serving, 10)
    await client.aclose()
    assert zalo.texts("u1")[0].startswith(start_text())
    assert [r.status for r in await rows(db)] == ["handled"]
    # And again: a handled update is never repeated.
    await worker(core, ZaloRunner(core, api)).drain()
    assert greetings(zalo, "u1") == 1


async def test_an_update_that_stopped_the_process_every_time_is_given_up(zalo, db, core, runner):
    await zalo.deliver(zalo.text_event("u1", "/start"))
    async with db.session() as session:
        # Begun three times, never finished: each attempt took the process down with it.
        await session.execute(update(InboxUpdate).values(attempts=MAX_ATTEMPTS))
    await worker(core, runner).drain()
    assert runner.order == []
    assert [r.status for r in await rows(db)] == ["failed"]
    assert zalo.texts("u1") == [T("error-internal")]


async def test_handled_is_written_in_the_handlers_unit_of_work(zalo, db, core, runner, monkeypatch):
    """When that unit of work fails after the handler's writes, neither is kept: the identity the
    update created is rolled back together with the mark, and the update is tried again."""
    from storage.models import Identity

    await zalo.deliver(zalo.text_event("u1", "/start"))
    real = inbox.mark_handled
    broken = [OperationalError("UPDATE", {}, Exception("the disk is full"))]

    async def failing_mark(session, **kwargs):  # type: ignore[no-untyped-def]
        if broken:
            raise broken.pop()
        return await real(session, **kwargs)

    monkeypatch.setattr(inbox, "mark_handled", failing_mark)
    await worker(core, runner).drain()
    (row,) = await rows(db)
    assert (row.status, row.attempts) == ("handled", 2)
    async with db.session() as session:
        identities = await session.scalar(select(func.count()).select_from(Identity))
    assert identities == 1
    # The first attempt sent nothing: its unit of work failed before any reply.
    assert greetings(zalo, "u1") == 1


async def test_rows_handled_a_week_ago_are_removed_failed_ones_kept(zalo, db, core, runner, clock):
    runner.fail, runner.failing = MAX_ATTEMPTS, "u1"
    await zalo.deliver(zalo.text_event("u1", "/start"))
    await zalo.deliver(zalo.text_event("u2", "/start"))
    work = worker(core, runner)
    await work.drain()
    await work.cleanup()
    assert len(await rows(db)) == 2
    clock.advance(days=7, hours=2)
    await work.cleanup()
    assert [(r.person, r.status) for r in await rows(db)] == [("u1", "failed")]


# --- polling and webhook mode at start --------------------------------------------------------


async def test_polling_records_each_update_before_handling_it(settings, core, db):
    settings = settings.model_copy(update={"zalo_webhook_secret": None})
    zalo = FakeZalo(hold_idle=5.0, webhook={"url": "https://old", "secret_token": SECRET})
    stop = asyncio.Event()
    client = httpx.AsyncClient(transport=zalo.transport())
    serving = asyncio.create_task(serve(settings, core, stop, client=client))
    zalo.queue_text("u1", "/start")
    await asyncio.wait_for(zalo.delivered.wait(), 10)
    stop.set()
    await asyncio.wait_for(serving, 10)
    await client.aclose()
    assert zalo.webhook is None  # polling mode took the updates back
    (row,) = await rows(db)
    assert (row.channel, row.person, row.status, row.message_id) == ("zalo", "u1", "handled", "m1")


async def test_webhook_mode_sets_the_webhook_and_answers_a_delivery(settings, core, db, hook):
    zalo = FakeZalo()
    zalo.queue_text("u9", "/start")  # left from polling: getUpdates is refused from now on
    app = http.make_app([hook.route(SECRET)])
    zalo.webhook_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app))
    stop = asyncio.Event()
    client = httpx.AsyncClient(transport=zalo.transport())
    serving = asyncio.create_task(serve(settings, core, stop, client=client, inbox=hook))
    await asyncio.wait_for(zalo.webhook_set.wait(), 10)
    api = ZaloApi(TOKEN, api_url="https://zalo.test", client=client)
    assert await api.get_webhook_info() == {
        "url": PUBLIC + WEBHOOK_PATH,
        "updated_at": 1764900000000,
    }
    assert zalo.webhook == {"url": PUBLIC + WEBHOOK_PATH, "secret_token": SECRET}
    with pytest.raises(ZaloError, match="400"):
        await api.get_update(poll_seconds=1)
    assert await zalo.deliver(zalo.text_event("u1", "/start"), wrapped=True) == [200]
    await asyncio.wait_for(zalo.delivered.wait(), 10)
    stop.set()
    await asyncio.wait_for(serving, 10)
    await client.aclose()
    await zalo.webhook_client.aclose()
    assert zalo.texts("u1")[0].startswith(start_text())
    assert zalo.webhook is not None  # kept set: what Zalo posts while the bot is down comes again


# --- sweeps without Telegram --------------------------------------------------------------------


async def test_without_telegram_the_sweeps_run_on_the_clock(core, db, clock, monkeypatch):
    from bot.demo import seed

    hanoi = ZoneInfo("Asia/Ho_Chi_Minh")
    clock.now = datetime(2026, 11, 29, 22, 0, tzinfo=hanoi).astimezone(UTC)
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    reminder_sweeps: list[datetime] = []
    real = schedules.sweep_reminders

    async def counted(core):  # type: ignore[no-untyped-def]
        reminder_sweeps.append(core.clock())
        return await real(core)

    monkeypatch.setattr(schedules, "sweep_reminders", counted)
    stop = asyncio.Event()
    until = datetime(2026, 11, 30, 8, 5, tzinfo=hanoi).astimezone(UTC)

    async def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)
        if clock.now >= until:
            stop.set()

    await schedules.run_sweeps(core, stop, interval=300, sleep=sleep)
    async with db.session() as session:
        keys = (await session.scalars(select(OutboxMessage.key))).all()
    # The demo's admin and coordinator get their Monday 08:00 digest, once.
    assert len([k for k in keys if k.startswith("digest:")]) == 2
    # Every five minutes from the start until 08:05: 10 h 5 min / 5 min sweeps.
    assert len(reminder_sweeps) == 121
    assert reminder_sweeps[1] - reminder_sweeps[0] == timedelta(seconds=300)


# --- the real process ----------------------------------------------------------------------------


def run_dvk_webhook(database_url: str, cwd: Path) -> tuple[int, list[int], list[str], str]:
    """`dvk run` with only Zalo, in webhook mode, on a port of its own: the fake sets nothing
    up but answers the API; a delivery goes over real HTTP to the bot's server. Returns (exit
    code, the delivery's answers, the texts to the person, the process's output)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    zalo = FakeZalo(route_to=f"http://127.0.0.1:{port}")
    environ = zalo_environ(database_url, "")
    log_path = cwd / "dvk-run.log"
    with served(zalo) as fake, log_path.open("wb") as log:
        environ.update(
            DVK_ZALO_API_URL=fake.url,
            DVK_PUBLIC_URL=PUBLIC,
            DVK_LINK_SECRET="l" * 32,
            DVK_ZALO_WEBHOOK_SECRET=SECRET,
            DVK_HTTP_LISTEN="127.0.0.1",
            DVK_HTTP_PORT=str(port),
        )
        process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "run"],
            cwd=cwd,
            env=environ,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
        try:
            fake.wait_for(lambda: "setWebhook" in fake.methods, STARTUP_TIMEOUT, "setWebhook")
            statuses = fake.deliver_text("u1", "/start")
            fake.wait_for(lambda: "sendMessage" in fake.methods, STEP_TIMEOUT, "the answer")
            process.send_signal(signal.SIGTERM)
            process.wait(15)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(5)
            print(log_path.read_text(errors="replace"))  # shown by pytest when the test fails
        with fake.changed:
            methods = list(fake.methods)
    output = log_path.read_text(errors="replace")
    assert "getUpdates" not in methods
    return process.returncode, statuses, zalo.texts("u1"), output


async def test_dvk_run_with_zalo_alone_serves_its_webhook(database_url, db, tmp_path):
    # `db`: on PostgreSQL the shared database is emptied first (no demo invites left).
    returncode, statuses, texts, output = await asyncio.to_thread(
        run_dvk_webhook, database_url, tmp_path
    )
    assert returncode == 0
    assert statuses == [200]
    assert texts and texts[0].startswith(start_text())
    assert TOKEN not in output and SECRET not in output
    assert "Traceback" not in output


async def test_one_server_carries_telegrams_webhook_and_zalos(settings, core, db, hook):
    from bot.telegram.app import build_application
    from bot.telegram.inbox import TelegramInbox
    from bot.telegram_run import open_webhook
    from tests.botapi import RecordingRequest
    from tests.conftest import TOKEN as TELEGRAM_TOKEN

    both = settings.model_copy(
        update={
            "telegram_token": SecretStr(TELEGRAM_TOKEN),
            "webhook_url": "https://bot.example.vn/telegram",
            "webhook_secret": SecretStr("telegram-secret"),
        }
    )
    application = build_application(both, core, request=RecordingRequest())
    await application.initialize()
    try:
        app = await open_webhook(TelegramInbox(application), both, routes=[hook.route(SECRET)])
        zalo = FakeZalo(webhook={"url": PUBLIC + WEBHOOK_PATH, "secret_token": SECRET})
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app)) as client:
            zalo.webhook_client = client
            assert await zalo.deliver(zalo.text_event("u1", "/start")) == [200]
            refused = await client.post(PUBLIC + "/telegram", json={"update_id": 1})
            assert refused.status_code == 403  # Telegram's route, with its own secret
    finally:
        await application.shutdown()
    assert [(r.channel, r.person) for r in await rows(db)] == [("zalo", "u1")]


async def test_a_flood_is_told_once_and_ignored_and_another_person_is_answered(
    zalo, db, core, runner, clock
):
    for n in range(25):
        await zalo.deliver(zalo.text_event("u1", "/help"))
        if n == 3:
            await zalo.deliver(zalo.text_event("u2", "/start"))
        clock.advance(seconds=0.4)
    await worker(core, runner).drain()
    notice = T("flood-too-fast")
    assert zalo.texts("u1").count(notice) == 1 and zalo.texts("u1")[-1] == notice
    assert len(runner.order) == 21  # 20 of u1's and u2's reached the runner; 5 did not
    assert zalo.texts("u2")[0].startswith(start_text())
    assert {row.status for row in await rows(db)} == {"handled"}


async def test_an_answer_a_crash_kept_from_going_out_is_sent_at_the_restart_once(
    zalo, db, core, api
):
    """The process stops right after the unit of work of u1's /start committed, before the answer
    went out (the runner's reply is cancelled, as a dead process would be): at the restart the
    kept answer is sent, once, before u1's next update is answered."""

    class Killed(ZaloRunner):
        kills = 1

        async def reply(self, chat_id, result):  # type: ignore[no-untyped-def]
            if self.kills:
                self.kills -= 1
                raise asyncio.CancelledError
            await super().reply(chat_id, result)

    await zalo.deliver(zalo.text_event("u1", "/start"))
    await zalo.deliver(zalo.text_event("u1", "/khongco"))
    await worker(core, Killed(core, api)).drain()
    assert zalo.texts("u1") == []
    assert [r.status for r in await rows(db)] == ["replying", "pending"]
    await worker(core, ZaloRunner(core, api)).drain()
    texts = zalo.texts("u1")
    assert greetings(zalo, "u1") == 1 and texts[0].startswith(start_text())
    assert texts[-1] == T("unknown-command", command="khongco")
    assert [(r.status, r.reply) for r in await rows(db)] == [("handled", None)] * 2
