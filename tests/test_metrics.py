"""`/healthz` and `/metrics` (bot/ops/): the counts move as the real Application handles a
person's messages and the outbox sender meets a 429, the outbox is read from the database at
most once in a few seconds, a job running shows while it runs, and `/metrics` answers only this
machine or the bearer of DVK_METRICS_TOKEN."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import select
from starlette.applications import Starlette
from telegram import Bot

from bot import http
from bot.config import Settings
from bot.demo import seed
from bot.ops import metrics as metrics_module
from bot.ops import monitor
from bot.ops.metrics import Metrics, metrics_of
from bot.runtime import build_core
from bot.telegram.outbox import flush_outbox
from bot.telegram_run import serve, serves_http
from handlers.core.jobs import Job, JobIO, run_job
from handlers.core.router import Core
from storage import outbox
from storage.db import Database
from storage.models import Identity
from tests.conftest import TOKEN
from tests.fakebotapi import FakeBotApi, running
from tests.test_webhook import free_port

GUEST = 5150
METRICS_TOKEN = "metrics-t0ken-for-tests"
REMOTE = ("203.0.113.9", 40000)
STEP_TIMEOUT = 10.0


class Ticks:
    """The metrics' monotonic clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@asynccontextmanager
async def client(
    app: Starlette, peer: tuple[str, int] = ("127.0.0.1", 50000)
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app, client=peer)
    async with httpx.AsyncClient(transport=transport, base_url="http://bot.test") as c:
        yield c


def server(core: Core, token: str | None = METRICS_TOKEN) -> Starlette:
    return http.make_app(monitor=monitor.routes(core, token))


async def scrape(app: Starlette) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of `/metrics`, by name and labels."""
    async with client(app) as c:
        response = await c.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture
async def seeded(db: Database, clock) -> None:
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())


@pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")  # PTB's own
async def test_metrics_move_as_updates_are_handled_and_sent(
    seeded, core: Core, chat, app, api, db: Database, clock
) -> None:
    ticks = Ticks()
    metrics_of(core).clock = ticks
    site = server(core)
    before = await scrape(site)
    assert value(before, "dvk_updates_handled_total", channel="telegram") == 0
    assert value(before, "dvk_jobs_running") == 0

    guest = chat(GUEST, "Bình")
    assert (await guest.send("/start"))[-1] == "Họ và tên của bạn?"
    await guest.send("Trần Thị Bình")  # the first answer of the joining form

    # Three updates: /start, the agreement to the personal-data notice, the name.
    after = await scrape(site)
    assert value(after, "dvk_updates_handled_total", channel="telegram") == 3
    assert value(after, "dvk_update_seconds_count", channel="telegram") == 3
    assert value(after, "dvk_update_seconds_sum", channel="telegram") > 0
    (form,) = {dict(labels)["form"] for name, labels in after if name == "dvk_form_steps_total"}
    assert value(after, "dvk_form_steps_total", form=form) == 1

    # The outbox, read when scraped: one message for the guest, who wrote from Telegram.
    async with db.session() as session:
        member_id = await session.scalar(
            select(Identity.member_id).where(Identity.external_id == str(GUEST))
        )
        await outbox.enqueue(
            session, key="test:1", member_id=member_id, payload={"text": "nhắc"}, now=clock()
        )
    ticks.now += metrics_module.OUTBOX_CACHE_SECONDS
    queued = await scrape(site)
    assert value(queued, "dvk_outbox_messages", channel="telegram", status="pending") == 1
    assert value(queued, "dvk_outbox_messages", channel="telegram", status="sent") == 0

    # Telegram answers the sender 429 once: counted, and the message goes out after the pause.
    api.fail_next["sendMessage"] = (
        429,
        {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 3",
         "parameters": {"retry_after": 3}},
    )  # fmt: skip
    # The sender's Bot of its own, without python-telegram-bot's rate limiter (as at start).
    async with Bot(TOKEN, request=api) as sender_bot:
        app.bot_data["sender_bot"] = sender_bot
        assert await flush_outbox(app) == 1
    cached = await scrape(site)
    assert value(cached, "dvk_rate_limited_total", channel="telegram") == 1
    # Within the cache's few seconds the database is not asked again ...
    assert value(cached, "dvk_outbox_messages", channel="telegram", status="pending") == 1
    ticks.now += metrics_module.OUTBOX_CACHE_SECONDS
    # ... after them it is.
    fresh = await scrape(site)
    assert value(fresh, "dvk_outbox_messages", channel="telegram", status="pending") == 0
    assert value(fresh, "dvk_outbox_messages", channel="telegram", status="sent") == 1


async def test_a_running_job_shows_while_it_runs(core: Core) -> None:
    site = server(core)
    release = asyncio.Event()
    started = asyncio.Event()

    async def work(io: JobIO) -> None:
        started.set()
        await release.wait()
        raise RuntimeError("the job fails: it still ends")

    async def nothing(*_: object) -> None:
        return None

    job = Job(key="export", first="…", busy="…", run=work)
    running_job = asyncio.create_task(run_job(core, job, progress=nothing, deliver=nothing))
    await started.wait()
    assert value(await scrape(site), "dvk_jobs_running") == 1
    release.set()
    await running_job
    assert value(await scrape(site), "dvk_jobs_running") == 0


async def test_each_core_has_a_registry_of_its_own(settings: Settings, db: Database) -> None:
    one, other = build_core(settings, db), build_core(settings, db)
    assert isinstance(one.observer, Metrics) and isinstance(other.observer, Metrics)
    one.observer.update_handled("telegram", 0.01, ["dang-ky"])
    samples = await scrape(server(other))
    assert value(samples, "dvk_updates_handled_total", channel="telegram") == 0
    assert value(await scrape(server(one)), "dvk_form_steps_total", form="dang-ky") == 1


@pytest.mark.parametrize(
    ("peer", "headers", "status"),
    [
        (REMOTE, {}, 403),
        (REMOTE, {"Authorization": "Bearer wrong"}, 403),
        (REMOTE, {"Authorization": METRICS_TOKEN}, 403),  # not as a bearer token
        (REMOTE, {"Authorization": f"Bearer {METRICS_TOKEN}"}, 200),
        # A reverse proxy on this machine connects from the loopback address: what it forwards
        # is judged as the remote request it is.
        (("127.0.0.1", 50000), {"X-Forwarded-For": "203.0.113.9"}, 403),
        (("127.0.0.1", 50000), {"Forwarded": "for=203.0.113.9"}, 403),
        (("::1", 50000), {}, 200),
        (("127.0.0.1", 50000), {}, 200),
    ],
)
async def test_metrics_answer_this_machine_or_the_token(
    core: Core, peer: tuple[str, int], headers: dict[str, str], status: int
) -> None:
    async with client(server(core), peer) as c:
        response = await c.get("/metrics", headers=headers)
    assert response.status_code == status
    assert ("dvk_updates_handled" in response.text) == (status == 200)


async def test_without_a_token_only_this_machine_is_answered(core: Core) -> None:
    async with client(server(core, token=None), REMOTE) as c:
        assert (await c.get("/metrics", headers={"Authorization": "Bearer "})).status_code == 403
    async with client(server(core, token=""), REMOTE) as c:
        assert (await c.get("/metrics", headers={"Authorization": "Bearer "})).status_code == 403


async def test_healthz_answers_whether_the_database_does(
    core: Core, settings: Settings, tmp_path: Path
) -> None:
    async with client(server(core), REMOTE) as c:
        health = await c.get("/healthz")
    assert (health.status_code, health.text) == (200, "ok")
    # A database that cannot be opened (a folder where the file should be).
    (tmp_path / "folder.sqlite3").mkdir()
    broken_url = f"sqlite+aiosqlite:///{tmp_path / 'folder.sqlite3'}"
    broken = Database.from_url(broken_url)
    try:
        site = server(build_core(settings.model_copy(update={"database_url": broken_url}), broken))
        async with client(site, REMOTE) as c:
            health = await c.get("/healthz")
    finally:
        await broken.dispose()
    assert health.status_code == 503


def test_the_server_runs_in_polling_mode_when_its_port_is_set() -> None:
    assert not serves_http(Settings(_env_file=None, telegram_token=TOKEN))
    assert serves_http(Settings(_env_file=None, telegram_token=TOKEN, http_port=8081))
    assert serves_http(Settings(_env_file=None, DVK_WEBHOOK_PORT=8081))


async def test_polling_with_a_port_serves_health_and_metrics(
    settings: Settings, core: Core
) -> None:
    """The whole polling mode in this process, on a real port, against a fake Bot API."""
    port = free_port()
    with running(FakeBotApi(token=TOKEN)) as fake:
        polling = settings.model_copy(
            update={
                "telegram_api_url": fake.url,
                "http_listen": "127.0.0.1",
                "http_port": port,
                "metrics_token": SecretStr(METRICS_TOKEN),
            }
        )
        assert "http_port" in polling.model_fields_set and serves_http(polling)
        stop = asyncio.Event()
        serving = asyncio.create_task(serve(polling, core, stop=stop))
        try:
            await asyncio.to_thread(
                fake.wait_for,
                lambda: "getUpdates" in [c.method for c in fake.calls],
                STEP_TIMEOUT,
                "polling",
            )
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=STEP_TIMEOUT
            ) as c:
                health = await c.get("/healthz")
                scraped = await c.get("/metrics")
        finally:
            stop.set()
            await asyncio.wait_for(serving, STEP_TIMEOUT)
    assert (health.status_code, health.text) == (200, "ok")
    assert scraped.status_code == 200 and "dvk_jobs_running 0.0" in scraped.text
    assert not [c for c in fake.calls if c.method == "setWebhook"]
