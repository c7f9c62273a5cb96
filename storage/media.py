"""The media store: photos people sent (report evidence) and files the bot publishes (charts,
exports), kept by a content key in a folder that replicas share (`DVK_MEDIA_DIR`).

A key is the SHA-256 of the content and an extension ("3fa9….jpg"), so the same picture is kept
once and a key names nothing outside the folder: `FolderStore` refuses any other shape. What
people send is checked before it is kept (`photo_key`): a JPEG, PNG or WebP by its first bytes,
at most the configured size; anything else is refused with the catalog text to show them.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Protocol

# Where the key's extension says what the content is; what the HTTP server answers with.
CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
    "csv": "text/csv; charset=utf-8",
}
IMAGES = ("jpg", "png", "webp")
# Any other file the bot publishes is served as bytes to download.
OTHER = "bin"
_KEY = re.compile(r"^[0-9a-f]{64}\.[a-z0-9]{1,8}$")


class MediaRefused(Exception):
    """What someone sent cannot be kept; `key` is the catalog text that says why."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key)
        self.key = key
        self.params = params


class MediaStore(Protocol):
    async def put(self, key: str, content: bytes) -> None: ...

    async def get(self, key: str) -> bytes | None:
        """The content, or None when nothing is kept under this key."""
        ...

    async def exists(self, key: str) -> bool: ...

    async def delete(self, key: str) -> None:
        """Remove what is kept under the key; nothing kept is not an error."""
        ...


def deleting(store: MediaStore, keys: list[str]) -> Callable[[], Awaitable[None]]:
    """Work to run once the unit of work that let go of these files has committed: deleted
    before, a failure after would leave rows pointing at files that are gone."""

    async def delete() -> None:
        for key in keys:
            await store.delete(key)

    return delete


def valid_key(key: str) -> bool:
    return bool(_KEY.match(key))


def extension_of(key: str) -> str:
    return key.rsplit(".", 1)[-1]


def content_type(key: str) -> str:
    return CONTENT_TYPES.get(extension_of(key), "application/octet-stream")


def image_type(content: bytes) -> str | None:
    """The extension of a JPEG, PNG or WebP picture, told by its magic bytes; None otherwise."""
    if content.startswith(b"\xff\xd8\xff"):
        return "jpg"
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if len(content) >= 12 and content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "webp"
    return None


def key_for(content: bytes, extension: str) -> str:
    return f"{hashlib.sha256(content).hexdigest()}.{extension}"


def photo_key(content: bytes, *, max_bytes: int) -> str:
    """The key a photo someone sent is kept under; raises MediaRefused when it is not one."""
    if len(content) > max_bytes:
        raise MediaRefused("media-photo-too-large", limit=max(1, max_bytes // (1024 * 1024)))
    extension = image_type(content)
    if extension is None:
        raise MediaRefused("media-photo-type")
    return key_for(content, extension)


def file_key(name: str, content: bytes) -> str:
    """The key of a file the bot publishes: its type from its name, checked against the bytes
    for pictures (a "chart.png" that is not a PNG is kept as plain bytes)."""
    extension = name.rsplit(".", 1)[-1].lower() if "." in name else OTHER
    if extension == "jpeg":
        extension = "jpg"
    if extension in IMAGES:
        extension = image_type(content) or OTHER
    elif extension not in CONTENT_TYPES:
        extension = OTHER
    return key_for(content, extension)


class FolderStore:
    """The store as files under one folder (two levels: "3f/3fa9….jpg"). A file is written
    to a temporary name beside it and renamed, so a reader on another replica sees the whole
    file or none."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def path(self, key: str) -> Path:
        if not valid_key(key):
            raise ValueError(f"not a media key: {key!r}")
        return self.root / key[:2] / key

    async def put(self, key: str, content: bytes) -> None:
        await asyncio.to_thread(self._write, self.path(key), content)

    async def get(self, key: str) -> bytes | None:
        if not valid_key(key):
            return None
        try:
            return await asyncio.to_thread(self.path(key).read_bytes)
        except FileNotFoundError:
            return None

    async def exists(self, key: str) -> bool:
        return valid_key(key) and await asyncio.to_thread(self.path(key).is_file)

    async def delete(self, key: str) -> None:
        if valid_key(key):
            await asyncio.to_thread(self.path(key).unlink, missing_ok=True)

    @staticmethod
    def _write(path: Path, content: bytes) -> None:
        if path.is_file():
            return  # the key is the content's hash: the same bytes are already there
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(content)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temporary, path)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise


async def store_photo(store: MediaStore, content: bytes, *, max_bytes: int) -> str:
    """Check a photo someone sent and keep it; its key. Raises MediaRefused."""
    key = photo_key(content, max_bytes=max_bytes)
    await store.put(key, content)
    return key
