"""/nhapexcel: an admin sends the workbook of paper records and it is imported, all or nothing.
Also how an import's problems and outcome are worded, for the chat and for `dvk import`."""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from excel.limits import WorkbookLimits
from excel.records_import import WorkbookSummary, import_workbook
from excel.rows import read_workbook
from excel.units_import import ImportFileError, Problem
from handlers.admin import statistics
from handlers.core import conversation, jobs
from handlers.core.commands import Command, Role
from handlers.core.context import Ctx
from handlers.core.flow import AdminFlow, register
from handlers.core.jobs import Job, JobIO
from handlers.core.types import Choice
from handlers.forms.spec import FieldSpec, FormSpec
from language import vn
from storage.models import Conversation, Member
from storage.records.conversations import end_conversation, get_conversation
from storage.records.uploads import UPLOAD_TTL, WORKBOOK_IMPORT, create_upload

log = logging.getLogger(__name__)

# Telegram lets a bot download files of up to 20 MB.
MAX_FILE_MB = 20
MAX_FILE_BYTES = MAX_FILE_MB * 1024 * 1024
# What a workbook may unpack to: the limits `dvk import` applies without its flags.
LIMITS = WorkbookLimits()
JOB_KEY = "import"
# Problems shown in the chat; the rest are counted (the command line prints them all).
MAX_SHOWN = 50
# How a sequence param is joined; any other sequence is a plain comma-separated list.
_SEPARATORS = {"chain": " → ", "fields": "; "}


def _param(name: str, value: object) -> object:
    if isinstance(value, list | tuple):
        return _SEPARATORS.get(name, ", ").join(str(_param("", v)) for v in value)
    if isinstance(value, date):
        return vn.format_date(value)
    if isinstance(value, Decimal):
        return vn.format_number(value)
    return value


def render_problem(t: Callable[..., str], problem: Problem) -> str:
    """The problem worded in `t`'s language, prefixed by its sheet and row when it has them."""
    text = t(problem.key, **{name: _param(name, v) for name, v in problem.params.items()})
    if problem.sheet is not None and problem.row is not None:
        return t("import-sheet-row", sheet=problem.sheet, row=problem.row, problem=text)
    if problem.sheet is not None:
        return t("import-sheet", sheet=problem.sheet, problem=text)
    return text if problem.row is None else t("import-row", row=problem.row, problem=text)


def failure_text(
    t: Callable[..., str], file_name: str, problems: Sequence[Problem], *, limit: int | None
) -> str:
    shown = problems if limit is None else problems[:limit]
    lines = [render_problem(t, problem) for problem in shown]
    if len(problems) > len(shown):
        lines.append(t("import-workbook-more", count=vn.format_number(len(problems) - len(shown))))
    lines.append(t("import-workbook-failed", file=file_name, count=vn.format_number(len(problems))))
    return "\n".join(lines)


def summary_text(t: Callable[..., str], summary: WorkbookSummary) -> str:
    head = "import-workbook-done" if summary.changed else "import-workbook-unchanged"
    lines = [t(head, file=summary.file_name)]
    for sheet, counts in summary.sheets.items():
        lines.append(
            t(
                "import-workbook-counts",
                sheet=sheet,
                added=vn.format_number(counts.added),
                updated=vn.format_number(counts.updated),
                unchanged=vn.format_number(counts.unchanged),
            )
        )
    return "\n".join(lines)


class ImportFlow(AdminFlow):
    # One step: the file. Typed text is refused by `check`; the file comes in `attachment`.
    form = FormSpec(
        "import",
        "form-import",
        (FieldSpec("file", "text", "label-import-file", "ask-import-file", max_length=4000),),
        summary=False,
    )

    async def prompt(
        self, ctx: Ctx, conv: Conversation, spec: FieldSpec, params: dict[str, object]
    ) -> str:
        if ctx.config.channels.takes_files(ctx.inbound.channel):
            return await super().prompt(ctx, conv, spec, params)
        return await upload_prompt(ctx)

    async def check(self, ctx: Ctx, conv: Conversation, spec: FieldSpec, value: Any) -> None:
        if not ctx.config.channels.takes_files(ctx.inbound.channel):
            raise vn.InputError("import-use-link")
        raise vn.InputError("import-send-file")

    async def complete(self, ctx: Ctx, conv: Conversation, answers: dict[str, Any]) -> None:
        raise vn.InputError("import-send-file")  # pragma: no cover - check refuses every text

    async def attachment(self, ctx: Ctx, conv: Conversation) -> bool:
        await receive(ctx, conv)
        return True


register(ImportFlow())


async def upload_prompt(ctx: Ctx) -> str:
    """On a channel that cannot send files (Zalo): a new one-time link to the upload page, for
    this admin and this chat. Each time the step is shown the link is new; each works once."""
    page = ctx.config.channels.upload_page()
    if page is None:  # pragma: no cover - /nhapexcel opens nothing there (start_import)
        return ctx.t("import-upload-unavailable")
    token = await create_upload(
        ctx.session,
        member_id=ctx.member.id,
        identity_id=ctx.identity.id,
        purpose=WORKBOOK_IMPORT,
        now=ctx.now,
    )
    minutes = int(UPLOAD_TTL.total_seconds() // 60)
    return ctx.t("import-upload-link", link=page + token, minutes=minutes, max=MAX_FILE_MB)


async def waiting_for_upload(session: AsyncSession, *, member_id: int) -> bool:
    """Whether this person's /nhapexcel is still open in the chat, to take a file given on the
    upload page (cancelled, or left for another form: the page says so and takes nothing)."""
    conv = await get_conversation(session, member_id=member_id)
    return conv is not None and conv.form == ImportFlow.form.name and not conv.paused


async def start_import(ctx: Ctx, conv: Conversation | None, args: str) -> None:
    """/nhapexcel: the file is asked for; where the channel cannot send files, through the
    upload page, and where that page is not served the admin is told so and nothing opens."""
    channels = ctx.config.channels
    if not channels.takes_files(ctx.inbound.channel) and channels.upload_page() is None:
        ctx.say("import-upload-unavailable")
        return
    await conversation.start(ctx, "import")


def _megabytes(size: int) -> str:
    return vn.format_number(round(Decimal(size) / (1024 * 1024), 1))


async def receive(ctx: Ctx, conv: Conversation) -> None:
    """The file sent at /nhapexcel's step: checked by name and size before it is downloaded,
    then imported by a background job (`ChatImport`), so nobody waits on a large workbook."""
    inbound = ctx.inbound
    name = inbound.file_name or ""

    async def again(key: str, **params: object) -> None:
        await conversation.render(ctx, conv, note="⚠️ " + ctx.t(key, **params))

    if inbound.attachment != "document" or not inbound.file_id:
        await again("import-send-file")
        return
    if not name.lower().endswith(".xlsx"):
        await again("import-workbook-wrong-type", file=name or "?")
        return
    if inbound.file_size is not None and inbound.file_size > MAX_FILE_BYTES:
        size = _megabytes(inbound.file_size)
        await again("import-too-big", file=name, size=size, max=MAX_FILE_MB)
        return
    fetch = ctx.config.channels.file_fetcher(inbound.channel)
    if fetch is None:
        await again("import-no-download")
        return
    load = functools.partial(fetch, inbound.file_id)
    if not ctx.config.channels.takes_files(inbound.channel):
        # The upload page's bytes are in memory only while this step runs: taken now.
        try:
            given = await load()
        except Exception:
            log.warning("could not fetch the file %s", name, exc_info=True)
            await again("import-download-failed", file=name)
            return
        load = functools.partial(_given, given)
    conversation.touch(ctx, conv)
    await ctx.session.flush()  # the version the cancel button below names
    cancel: Choice | None = None
    if ctx.config.channels.takes_files(inbound.channel):
        again_text = ctx.t("import-send-corrected")
        cancel = conversation.button(conv, "x", ctx.t("button-cancel"))
    else:  # Zalo: no buttons in what comes through the outbox; its form words still cancel
        again_text = await upload_prompt(ctx)
    # Downloaded by the job, not here: a large file over a slow link would hold this update's
    # unit of work open (SQLite's write lock with it) for as long as it takes.
    work = ChatImport(ctx.member.id, name, load, again_text, cancel)
    first = ctx.t("import-started", file=name)
    await jobs.start(ctx, Job(JOB_KEY, first, ctx.t("import-busy"), work.run))


@dataclass(frozen=True)
class ChatImport:
    """The workbook read and imported in the background (handlers/core/jobs.py): all or nothing,
    in one unit of work that also ends the admin's /nhapexcel and queues its outcome, so the
    records, the form's end and the message are committed together or not at all. With problems
    nothing is written and the step stays open for a corrected file."""

    member_id: int
    file_name: str
    load: Callable[[], Awaitable[bytes]]
    again_text: str
    cancel: Choice | None

    async def run(self, io: JobIO) -> None:
        name = self.file_name
        await io.progress(io.t("import-progress-read", file=name), 0.1)
        data = await self._download(io)
        if data is None:
            return
        try:
            # Reading a large workbook takes a while: not on the event loop.
            rows = await asyncio.to_thread(read_workbook, data, name, LIMITS)
            await io.progress(io.t("import-progress-write", file=name), 0.4)
            async with io.db.session() as session:
                member = await session.get(Member, self.member_id)
                if member is None or not member.is_admin:  # the rights of the moment it runs
                    await io.tell(session, io.t("error-not-allowed"))
                    await io.done(session, "not allowed")
                    return
                summary = await import_workbook(
                    session,
                    rows=rows,
                    now=io.clock(),
                    timezone=io.config.timezone,
                    actor_id=self.member_id,
                )
                conv = await get_conversation(session, member_id=self.member_id)
                if conv is not None and conv.form == ImportFlow.form.name:
                    await end_conversation(session, conversation=conv)
                text = summary_text(io.t, summary)
                await io.tell(session, text)
                await io.done(session, text.splitlines()[0])
        except ImportFileError as error:
            # Rolled back: nothing of the file was written.
            text = failure_text(io.t, name, error.problems, limit=MAX_SHOWN)
            async with io.db.session() as session:
                buttons = [[self.cancel]] if self.cancel else None
                await io.tell(session, text + "\n\n" + self.again_text, buttons)
                count = vn.format_number(len(error.problems))
                await io.done(session, io.t("import-workbook-failed", file=name, count=count))

    async def _download(self, io: JobIO) -> bytes | None:
        """The file's bytes; None when they could not be had or are too many, the admin told
        so and the step left open for another file."""
        name, problem = self.file_name, None
        try:
            data = await self.load()
        except Exception:  # the channel's own errors (network, an expired file id, ...)
            log.warning("could not fetch the file %s", name, exc_info=True)
            problem = io.t("import-download-failed", file=name)
        else:
            if len(data) <= MAX_FILE_BYTES:
                return data
            size = _megabytes(len(data))
            problem = io.t("import-too-big", file=name, size=size, max=MAX_FILE_MB)
        async with io.db.session() as session:
            buttons = [[self.cancel]] if self.cancel else None
            await io.tell(session, "⚠️ " + problem + "\n\n" + self.again_text, buttons)
            await io.done(session, problem)
        return None


async def _given(data: bytes) -> bytes:
    return data


COMMANDS: tuple[Command[Any], ...] = (
    # The empty workbook /nhapexcel reads: listed beside the import it is for.
    Command(("maunhap",), Role.ADMIN, lambda ctx, conv, a: statistics.send_template(ctx)),
    Command(("nhapexcel",), Role.ADMIN, start_import, opens="import"),
)
