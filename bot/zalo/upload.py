"""The one-time upload page: Zalo cannot send files, so /nhapexcel there answers with a link to
`GET /upload/<token>`, a plain form, and the workbook posted to it is imported exactly as a file
sent on Telegram is: handed to the core as the admin's attachment at the open /nhapexcel step,
its result answered in the admin's chat (`Channel.answer`, set by the channel's runner).

A token is refused before the body is read (unknown 404; used or expired 410); the body is read
only up to the import's size limit; the file must be an .xlsx (name and zip signature). Only
then is the token used, atomically (storage/records/uploads.py): it works once, also when two
posts race. Served only where DVK_PUBLIC_URL is set."""

from __future__ import annotations

import html
import logging
import secrets
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from bot import http
from bot.channels import channels_of
from handlers.admin.importing import MAX_FILE_BYTES, MAX_FILE_MB, waiting_for_upload
from handlers.core.router import Core
from handlers.core.types import Inbound
from storage.models import Identity, Member
from storage.records.uploads import (
    UPLOAD_TTL,
    WORKBOOK_IMPORT,
    Lookup,
    find_upload,
    token_hash,
    use_upload,
)

log = logging.getLogger(__name__)

# The form's own bytes around the file (boundaries, headers) on top of the import's limit.
MAX_BODY = MAX_FILE_BYTES + 64 * 1024
XLSX_SIGNATURE = b"PK\x03\x04"  # an .xlsx is a zip archive
ACCEPT = ".xlsx,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The token is in the address: it is not cached, sent on as a referrer, or indexed.
HEADERS = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Robots-Tag": "none"}
REFUSED = {"unknown": 404, "used": 410, "expired": 410}


@dataclass(frozen=True)
class Upload:
    name: str
    content: bytes


def read_file(content_type: str, body: bytes) -> Upload | None:
    """The `file` field of a multipart/form-data body; None when there is none (or nothing
    chosen: an empty name and no bytes)."""
    try:
        message = BytesParser(policy=policy.HTTP).parsebytes(
            b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
        )
    except (UnicodeError, ValueError):
        return None
    if not isinstance(message, EmailMessage) or not message.is_multipart():
        return None
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") != "file":
            continue
        name = (part.get_filename() or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
        content = part.get_payload(decode=True)
        if not name or not isinstance(content, bytes):
            return None
        return Upload(name[:200], content)
    return None


class UploadPage:
    def __init__(self, core: Core) -> None:
        self.core = core
        self.t = core.texts
        self.registry = channels_of(core)

    def page(
        self, status: int, message: str, *, form: bool = False, close: bool = False
    ) -> Response:
        t = self.t
        title = html.escape(t("upload-page-title"))
        chooser = ""
        if form:
            chooser = (
                '<form method="post" enctype="multipart/form-data">'
                f"<p><label>{html.escape(t('upload-page-file'))}<br>"
                f'<input type="file" name="file" accept="{ACCEPT}" required></label></p>'
                f'<p><button type="submit">{html.escape(t("upload-page-submit"))}</button></p>'
                "</form>"
            )
        body = (
            '<!doctype html><html lang="vi"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title}</title></head>"
            '<body style="font-family:sans-serif;max-width:32rem;margin:2rem auto;padding:0 1rem">'
            f"<h1>{title}</h1><p>{html.escape(message)}</p>{chooser}</body></html>"
        )
        headers = {**HEADERS, **({"Connection": "close"} if close else {})}
        return HTMLResponse(body, status_code=status, headers=headers)

    def refused(self, found: Lookup, *, close: bool = False) -> Response:
        minutes = int(UPLOAD_TTL.total_seconds() // 60)
        text = self.t(f"upload-page-{found.state}", minutes=minutes)
        return self.page(REFUSED[found.state], text, close=close)

    def form(self, found: Lookup, note: str | None = None, status: int = 200) -> Response:
        assert found.upload is not None
        expires = found.upload.expires_at.astimezone(self.core.config.timezone)
        intro = self.t("upload-page-intro", max=MAX_FILE_MB, time=expires.strftime("%H:%M"))
        return self.page(status, f"{note} {intro}" if note else intro, form=True)

    async def lookup(self, token: str) -> Lookup:
        async with self.core.db.session() as session:
            return await find_upload(
                session, token=token, purpose=WORKBOOK_IMPORT, now=self.core.clock()
            )

    async def show(self, request: Request) -> Response:
        found = await self.lookup(request.path_params["token"])
        return self.refused(found) if found.state != "valid" else self.form(found)

    async def receive(self, request: Request) -> Response:
        token = request.path_params["token"]
        found = await self.lookup(token)
        if found.state != "valid":
            return self.refused(found, close=True)
        too_big = self.t("upload-page-too-big", max=MAX_FILE_MB)
        content_type = request.headers.get("content-type", "")
        if not content_type.startswith("multipart/form-data"):
            return self.form(found, self.t("upload-page-no-file"), 400)
        try:
            body = await http.read_body(request, MAX_BODY)
        except http.BodyTooLarge:
            return self.page(413, too_big, close=True)
        except ValueError:
            return http.refusal(400)
        upload = read_file(content_type, body)
        if upload is None:
            return self.form(found, self.t("upload-page-no-file"), 400)
        if len(upload.content) > MAX_FILE_BYTES:
            return self.page(413, too_big)
        xlsx = upload.name.lower().endswith(".xlsx")
        if not xlsx or not upload.content.startswith(XLSX_SIGNATURE):
            return self.form(found, self.t("upload-page-wrong-type", file=upload.name), 415)
        return await self.hand_over(token, upload)

    async def hand_over(self, token: str, upload: Upload) -> Response:
        """The token used and the file given to the core as the admin's attachment; the answer
        goes to the admin's chat. The token is used first, in its own transaction: a failure
        after it never lets the same link import twice."""
        now = self.core.clock()
        async with self.core.db.session() as session:
            found = await find_upload(session, token=token, purpose=WORKBOOK_IMPORT, now=now)
            if found.state != "valid" or found.upload is None:
                return self.refused(found)
            member = await session.get(Member, found.upload.member_id)
            identity = await session.get(Identity, found.upload.identity_id)
            if member is None or identity is None or not member.is_admin:
                return self.page(403, self.t("upload-page-not-allowed"))
            if not await waiting_for_upload(session, member_id=member.id):
                return self.page(409, self.t("upload-page-closed"))
            known = identity.channel in self.registry.names()
            channel = self.registry[identity.channel] if known else None
            if channel is None or channel.answer is None:
                return self.page(503, self.t("upload-page-unavailable"))
            if not await use_upload(session, upload_id=found.upload.id, now=now):
                return self.refused(Lookup("used"))
            answer = channel.answer
            inbound = Inbound(
                channel=identity.channel,
                external_id=identity.external_id,
                chat_id=identity.chat_id,
                attachment="document",
                file_id=f"upload:{token_hash(token)[:16]}:{secrets.token_hex(8)}",
                file_name=upload.name,
                file_size=len(upload.content),
                numbered=not channel.capabilities.buttons,
            )
        assert inbound.file_id is not None
        self.registry.uploaded[inbound.file_id] = upload.content
        try:
            await answer(inbound)
        except Exception:
            log.exception("the workbook given on the upload page could not be imported")
            return self.page(500, self.t("upload-page-failed"))
        finally:
            self.registry.uploaded.pop(inbound.file_id, None)
        return self.page(200, self.t("upload-page-received", file=upload.name))


def routes(core: Core) -> list[Route]:
    """`GET` and `POST /upload/<token>`; none without DVK_PUBLIC_URL."""
    if channels_of(core).upload_page() is None:
        return []
    page = UploadPage(core)
    return [
        Route("/upload/{token}", page.show, methods=["GET"]),
        Route("/upload/{token}", page.receive, methods=["POST"]),
    ]
