"""The Zalo channel: updates come by polling (`getUpdates`, one at a time) or by webhook (the
route in bot/zalo/inbox.py); either way each is recorded in the inbox first, and the inbox's
worker turns each into an `Inbound` for the core and delivers its reply through the Zalo
delivery: each person's one at a time in the order they were recorded, different people's side
by side (docs/concurrency.md). The outbox sender runs beside it."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from bot.channels import ZALO, channels_of
from bot.config import Settings
from bot.delivery import ChatId, Rejected, RetryLater, Transient, Unreachable
from bot.inbox import backoff, first, unless_stopped
from bot.media_links import store_photo_from_url
from bot.ops.metrics import metrics_of
from bot.quota import QuotaKeeper
from bot.sender import Sender
from bot.updates.order import DEFAULT_BOUND, PersonOrder
from bot.zalo.api import NetworkError, Update, ZaloApi, ZaloError
from bot.zalo.delivery import ZaloOutput, zalo_transport
from bot.zalo.inbox import WEBHOOK_PATH, Within, ZaloInbox, worker
from handlers.admin import broadcast
from handlers.core.jobs import Job, run_job
from handlers.core.router import Core
from handlers.core.types import Inbound, Outbound, Result
from storage.media import MediaRefused

log = logging.getLogger(__name__)
POLL_SECONDS = 30
# How often finished broadcasts are looked for, as on Telegram.
BROADCAST_PROGRESS_SECONDS = 5
DeliveryError = (RetryLater, Unreachable, Rejected, Transient)


@dataclass
class ZaloRunner:
    core: Core
    api: ZaloApi
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep
    poll_seconds: int = POLL_SECONDS
    jobs: set[asyncio.Task[None]] = field(default_factory=set)
    # Counts every reply Zalo accepted against the month's quota (bot/quota.py).
    quota: QuotaKeeper | None = None
    # How many people's updates are handled at once (DVK_CONCURRENT_UPDATES).
    concurrent_updates: int = DEFAULT_BOUND

    def __post_init__(self) -> None:
        self.output = self._output()
        # A workbook given on the upload page is imported and answered in the person's chat.
        channels_of(self.core).start(ZALO, answer=self.answer)
        if self.quota is None:
            self.quota = QuotaKeeper.for_channel(
                self.core.db,
                channels_of(self.core)[ZALO],
                texts=self.core.texts,
                clock=self.core.clock,
            )

    async def _track(self, key: str, chat_id: str, message_id: str) -> None:
        await self.core.track_message(key, ZALO, chat_id, message_id)

    def _output(self) -> ZaloOutput:
        return ZaloOutput(
            self.api,
            channels_of(self.core)[ZALO].capabilities,
            texts=self.core.texts,
            # A broadcast's progress message: where it went, so its final count follows it.
            track=self._track,
            # Files and pictures reach Zalo as signed links (None without DVK_PUBLIC_URL).
            publish=channels_of(self.core).publish,
            media=channels_of(self.core).media,
        )

    # --- the loop -----------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, inbox: ZaloInbox | None = None) -> None:
        """Poll until `stop` is set, each update recorded in the inbox and handled by its
        worker."""
        inbox = inbox or ZaloInbox(self.core)
        working = asyncio.get_running_loop().create_task(self.work(stop, inbox))
        try:
            await self.poll(stop, inbox)
        finally:
            stop.set()
            await working

    async def work(self, stop: asyncio.Event, inbox: ZaloInbox) -> None:
        """Handle the inbox (what a restart left first) until `stop` is set."""
        try:
            order = PersonOrder(self.concurrent_updates)
            await worker(self.core, self, sleep=self.sleep, order=order).run(inbox.wake, stop)
        finally:
            await self.stop_jobs()

    async def poll(self, stop: asyncio.Event, inbox: ZaloInbox) -> None:
        """Poll until `stop` is set. An idle poll (408) is normal; no answer, a 5xx or a refusal
        backs off (1 s, doubling, at most a minute) so a lost network is not a busy loop."""
        failures = 0
        while not stop.is_set():
            try:
                body = await self._poll(stop)
            except ZaloError as error:
                failures += 1
                wait = backoff(failures)
                level = logging.WARNING if isinstance(error, NetworkError) else logging.ERROR
                log.log(level, "Zalo getUpdates failed (%s); again in %g s", error, wait)
                await self._pause(wait, stop)
                continue
            failures = 0
            if body is not None:
                await self._record(body, inbox, stop)

    async def _record(self, body: Any, inbox: ZaloInbox, stop: asyncio.Event) -> None:
        """Zalo hands an update over once, with no offset to ask for it again: until it is
        recorded it lives only here, so a database that fails is tried again (backing off)."""
        failures = 0
        while not stop.is_set():
            try:
                await inbox.record(body)
                return
            except Exception:
                failures += 1
                wait = backoff(failures)
                log.exception("a polled Zalo update could not be recorded; again in %g s", wait)
                await self._pause(wait, stop)
        log.error("stopped before a polled Zalo update could be recorded; it is lost")

    async def _poll(self, stop: asyncio.Event) -> Any:
        """One poll, given up at once when `stop` is set (a poll waits up to poll_seconds)."""
        return await unless_stopped(self.api.get_update_body(poll_seconds=self.poll_seconds), stop)

    async def _pause(self, seconds: float, stop: asyncio.Event) -> None:
        await first(self.sleep(seconds), stop.wait())

    # --- one update -----------------------------------------------------------------------------

    async def handle(self, update: Update, *, within: Within | None = None) -> None:
        """One update: `within` runs in the core's unit of work (bot/zalo/inbox.py)."""
        texts = self.core.texts
        if not update.private:
            # As on Telegram: a command in a group is answered with one line, the rest ignored.
            if update.text and update.text.startswith("/"):
                await self.say(update.chat_id, Outbound(texts("group-not-supported")))
            return
        try:
            inbound = await self.inbound(update)
        except MediaRefused as refused:
            await self.say(update.chat_id, Outbound(texts(refused.key, **refused.params)))
            return
        if inbound is None:
            key = "zalo-sticker-not-read" if update.kind == "sticker" else "zalo-not-read"
            await self.say(update.chat_id, Outbound(texts(key)))
            return
        await self.reply(update.chat_id, await self.core.handle(inbound, within=within))

    async def answer(self, inbound: Inbound) -> None:
        """An event that did not come through Zalo (a file given on the upload page), handled
        and answered in the person's Zalo chat as an update would be."""
        await self.reply(inbound.chat_id, await self.core.handle(inbound))

    async def reply(self, chat_id: str, result: Result) -> None:
        for message in result.messages:
            await self.say(chat_id, message)
        for job in result.jobs:
            self.start_job(chat_id, job)

    async def inbound(self, update: Update) -> Inbound | None:
        """The update as the core reads it; None for what the bot cannot read (a sticker, a file
        or a video Zalo delivers without content)."""
        common: dict[str, Any] = {
            "channel": ZALO,
            "external_id": update.user_id,
            "chat_id": update.chat_id,
            "display_name": update.display_name,
            # No buttons: a typed reply is read against the person's stored menu (its number,
            # its label, or the words for back, skip and cancel: handlers/core/numbered.py).
            "numbered": True,
        }
        if update.kind == "image" and update.photo_url:
            # Zalo's picture URLs expire: the picture is kept in the media store at once.
            media = channels_of(self.core).media
            if media is None:
                raise MediaRefused("media-photo-failed")
            key = await store_photo_from_url(media, update.photo_url)
            return Inbound(**common, text=update.text, attachment="photo", media_key=key)
        if update.kind != "text" or not update.text:
            return None
        return Inbound(**common, text=update.text)

    async def say(self, chat_id: ChatId, message: Outbound) -> None:
        """A reply. One that Zalo refuses (quota, blocked, no network) is logged: the person's
        action has been applied and recorded already. Replies are never held back by the quota's
        reserve; what Zalo accepted (also the first parts of one that failed) is counted."""
        output = self._output()  # its own, so its count is this reply's (jobs answer meanwhile)
        try:
            await output.deliver(chat_id, message)
        except DeliveryError as error:
            log.warning("could not answer on Zalo: %s", error)
        finally:
            if self.quota is not None:
                await self.quota.record(output.accepted)

    # --- broadcasts' progress -------------------------------------------------------------------

    async def broadcast_progress(self) -> None:
        """Queue the final count of each broadcast that has gone out for its admin, through the
        outbox (no edits on Zalo; never lost to a 429). The counts on the way are not sent: each
        would count against the quota."""
        core = self.core
        await broadcast.progress_updates(
            core.db, core.texts, core.clock(), channel=ZALO, final_by_outbox=True
        )

    async def follow_broadcasts(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.broadcast_progress()
            except Exception:
                log.exception("could not follow the broadcasts on Zalo")
            await self._pause(BROADCAST_PROGRESS_SECONDS, stop)

    # --- background jobs (an export) ------------------------------------------------------------

    def start_job(self, chat_id: str, job: Job) -> None:
        """Runs beside the updates. Nothing can be edited on Zalo and every message counts
        against the quota: the person is told it began, then gets its result, no progress."""

        async def progress(text: str, fraction: float) -> None:
            return None

        async def deliver(messages: list[Outbound]) -> None:
            for message in messages:
                await self.say(chat_id, message)

        async def work() -> None:
            await self.say(chat_id, Outbound(job.first))
            await run_job(self.core, job, progress=progress, deliver=deliver)

        task = asyncio.get_running_loop().create_task(work(), name=f"zalo-job:{job.key}")
        self.jobs.add(task)
        task.add_done_callback(self.jobs.discard)

    async def stop_jobs(self) -> None:
        """On a stop a job is abandoned, as on Telegram (an export may take minutes)."""
        tasks = [task for task in self.jobs if not task.done()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def outbox_sender(
    core: Core,
    api: ZaloApi,
    *,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    quota: QuotaKeeper | None = None,
) -> Sender:
    """The outbox sender for Zalo, delivering as replies do (pictures and files as links),
    within the month's quota."""
    channels = channels_of(core)
    transport = zalo_transport(api, texts=core.texts, publish=channels.publish)
    return Sender.for_channel(
        core.db,
        channels[ZALO],
        transport,
        clock=core.clock,
        sleep=sleep,
        quota=quota,
        on_rate_limited=metrics_of(core).counting_429s(ZALO),
    )


async def serve(
    settings: Settings,
    core: Core,
    stop: asyncio.Event,
    *,
    client: httpx.AsyncClient | None = None,
    sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    inbox: ZaloInbox | None = None,
) -> None:
    """The Zalo channel until `stop` is set: polling, or in webhook mode (settings.zalo_webhook:
    the route of `inbox` is on the HTTP server) the webhook set at Zalo; the inbox's worker and
    the outbox sender beside it, stopped together (each finishes what is in flight). Raises
    ZaloError when the token is refused."""
    assert settings.zalo_token is not None
    api = ZaloApi(
        settings.zalo_token.get_secret_value().strip(),
        api_url=settings.zalo_api_url,
        client=client,
    )
    inbox = inbox or ZaloInbox(core)
    try:
        await api.get_me()  # a refused token stops here, before anything runs
        if settings.zalo_webhook():
            assert settings.public_url and settings.zalo_webhook_secret
            secret = settings.zalo_webhook_secret.get_secret_value()
            # Kept set when the bot stops: what Zalo posts meanwhile is delivered again later.
            await api.set_webhook(settings.public_url + WEBHOOK_PATH, secret)
            log.info("Zalo posts its updates to the webhook at %s", WEBHOOK_PATH)
        else:
            # A webhook left set makes getUpdates answer 400: polling mode takes them back.
            await api.delete_webhook()
        channel = channels_of(core)[ZALO]
        quota = QuotaKeeper.for_channel(core.db, channel, texts=core.texts, clock=core.clock)
        sender = outbox_sender(core, api, sleep=sleep, quota=quota)
        loop = asyncio.get_running_loop()
        sending = loop.create_task(sender.run(stop), name="zalo-outbox")
        runner = ZaloRunner(
            core, api, sleep=sleep, quota=quota, concurrent_updates=settings.concurrent_updates
        )
        working = loop.create_task(runner.work(stop, inbox), name="zalo-inbox")
        following = loop.create_task(runner.follow_broadcasts(stop), name="zalo-broadcasts")
        try:
            if settings.zalo_webhook():
                await stop.wait()
            else:
                await runner.poll(stop, inbox)
        finally:
            stop.set()
            await asyncio.gather(working, sending, following)
    finally:
        await api.close()
