"""The media store as the channels use it: photos people send are kept at once (a Telegram
download, a Zalo URL that soon expires), and what the bot shows on a channel that cannot take
the bytes (a chart on Zalo, an export) is published at a signed link that expires, served by the
project's HTTP server (`GET /media/<token>`, `GET /files/<token>`).

A token is the key, the expiry and the file's name, with an HMAC-SHA256 over them and the route
(`DVK_LINK_SECRET`): the server refuses a token it did not sign, or one past its time, without
touching the store. Without `DVK_PUBLIC_URL` there are no links (`Media.links` is None) and the
delivery says so where one would be needed."""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from bot.config import Settings
from storage.media import (
    IMAGES,
    FolderStore,
    MediaRefused,
    MediaStore,
    content_type,
    extension_of,
    file_key,
    store_photo,
    valid_key,
)

log = logging.getLogger(__name__)
MEDIA = "media"  # pictures, shown inline
FILES = "files"  # downloads, with their file name
# A photo's URL is fetched at most this long (connect, each read, the whole download).
DOWNLOAD_TIMEOUT = 30.0


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Grant:
    """What a valid token lets one fetch."""

    key: str
    name: str


class Links:
    """Signs and reads the tokens of links; the clock decides what has expired."""

    def __init__(
        self,
        base_url: str,
        secret: str,
        *,
        ttl: timedelta = timedelta(hours=24),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._secret = secret.encode()
        self.ttl = ttl
        self.clock = clock

    def _mac(self, route: str, payload: bytes) -> bytes:
        return hmac.new(self._secret, route.encode() + b"\n" + payload, hashlib.sha256).digest()

    def token(self, route: str, key: str, name: str = "") -> str:
        expires = int((self.clock() + self.ttl).timestamp())
        payload = f"{key}\n{expires}\n{name}".encode()
        return f"{_b64(payload)}.{_b64(self._mac(route, payload))}"

    def url(self, route: str, key: str, name: str = "") -> str:
        return f"{self.base_url}/{route}/{self.token(route, key, name)}"

    def read(self, route: str, token: str) -> Grant | None:
        """The grant of a token signed for this route and not expired; None otherwise."""
        encoded, _, signature = token.partition(".")
        try:
            payload, given = _unb64(encoded), _unb64(signature)
        except (binascii.Error, ValueError):
            return None
        if not hmac.compare_digest(given, self._mac(route, payload)):
            return None
        try:
            key, expires, name = payload.decode().split("\n", 2)
            expired = int(expires) < self.clock().timestamp()
        except ValueError:
            return None
        return None if expired else Grant(key, name)


class Media:
    """The store, the size a photo may have, and the links (None without DVK_PUBLIC_URL)."""

    def __init__(self, store: MediaStore, *, max_bytes: int, links: Links | None = None) -> None:
        self.store = store
        self.max_bytes = max_bytes
        self.links = links

    async def keep_photo(self, content: bytes) -> str:
        """A photo someone sent, checked and kept; its key. Raises MediaRefused."""
        return await store_photo(self.store, content, max_bytes=self.max_bytes)

    async def publish(self, name: str, content: bytes) -> str:
        """The bytes kept and a signed link to them: a picture at /media, a file at /files
        under its name. Only called where `links` exist (see `Registry.publish`)."""
        if self.links is None:
            raise RuntimeError("no DVK_PUBLIC_URL: nothing can be published")
        key = file_key(name, content)
        await self.store.put(key, content)
        if extension_of(key) in IMAGES:
            return self.links.url(MEDIA, key)
        return self.links.url(FILES, key, name)


def media_of(settings: Settings, clock: Callable[[], datetime] | None = None) -> Media:
    links = None
    if settings.public_url and settings.link_secret is not None:
        links = Links(
            settings.public_url,
            settings.link_secret.get_secret_value().strip(),
            ttl=timedelta(hours=settings.link_ttl_hours),
            **({"clock": clock} if clock is not None else {}),
        )
    store = FolderStore(Path(settings.media_dir))
    return Media(store, max_bytes=settings.media_max_bytes(), links=links)


async def store_photo_from_url(
    media: Media,
    url: str,
    *,
    client: httpx.AsyncClient | None = None,
    within: float = DOWNLOAD_TIMEOUT,
) -> str:
    """Download a photo a channel gave as a URL (Zalo's expire soon) and keep it; its key.
    The whole download takes at most `within` seconds and the size limit holds while the body
    streams. Raises MediaRefused: "media-photo-too-large", "media-photo-type", or
    "media-photo-failed" when it could not be downloaded."""
    own = client is None
    client = client or httpx.AsyncClient(timeout=within, follow_redirects=True)
    try:
        async with asyncio.timeout(within):
            body = await _download(client, url, media.max_bytes)
    except (httpx.HTTPError, TimeoutError) as error:
        # The URL may carry an access token: only the kind of error is logged.
        log.warning("a photo could not be downloaded: %s", type(error).__name__)
        raise MediaRefused("media-photo-failed") from error
    finally:
        if own:
            await client.aclose()
    return await media.keep_photo(body)


async def _download(client: httpx.AsyncClient, url: str, max_bytes: int) -> bytes:
    async with client.stream("GET", url) as response:
        if response.status_code != 200:
            log.warning("a photo could not be downloaded: HTTP %s", response.status_code)
            raise MediaRefused("media-photo-failed")
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise MediaRefused("media-photo-too-large", limit=_mb(max_bytes))
        body = bytearray()
        async for chunk in response.aiter_bytes():
            body += chunk
            if len(body) > max_bytes:
                raise MediaRefused("media-photo-too-large", limit=_mb(max_bytes))
    return bytes(body)


def _mb(size: int) -> int:
    return max(1, size // (1024 * 1024))


# --- the HTTP server's routes ---------------------------------------------------------------------


def _served(content: bytes, key: str, **headers: str) -> Response:
    return Response(
        content,
        media_type=content_type(key),
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private", **headers},
    )


def routes(media: Media | None) -> list[Route]:
    """`GET /media/<token>` and `GET /files/<token>`; none without links. 403 for a token not
    signed here or expired, 404 for what the store does not hold."""
    links = media.links if media is not None else None
    if media is None or links is None:
        return []

    async def picture(request: Request) -> Response:
        grant = links.read(MEDIA, request.path_params["token"])
        if grant is None:
            return PlainTextResponse("403", status_code=403)
        content = await media.store.get(grant.key) if extension_of(grant.key) in IMAGES else None
        if content is None:
            return PlainTextResponse("404", status_code=404)
        return _served(content, grant.key)

    async def download(request: Request) -> Response:
        grant = links.read(FILES, request.path_params["token"])
        if grant is None:
            return PlainTextResponse("403", status_code=403)
        content = await media.store.get(grant.key) if valid_key(grant.key) else None
        if content is None:
            return PlainTextResponse("404", status_code=404)
        name = grant.name or grant.key
        ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
        disposition = f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"
        return _served(content, grant.key, **{"Content-Disposition": disposition})

    return [
        Route(f"/{MEDIA}/{{token}}", picture, methods=["GET"]),
        Route(f"/{FILES}/{{token}}", download, methods=["GET"]),
    ]
