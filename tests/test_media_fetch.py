"""`dvk media fetch`: photos kept only as Telegram file ids (from before the media store) are
downloaded once through a fake Bot API, kept in the store and their key written; what cannot be
fetched is listed by model; an interruption keeps what was fetched, and a second run goes on
with the rest only."""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from sqlalchemy import select
from telegram.error import NetworkError

from bot.channels import channels_of
from bot.cli import main
from bot.telegram.backfill import fetch_command
from storage.media import key_for
from storage.models import ReportPhoto
from tests.botapi import JPEG, RecordingRequest
from tests.test_export import build_data
from tests.test_photo_export import PNG, add_photos

API_URL = "http://bot-api.local:8081"
FIRST, SECOND, THIRD, FOURTH, FIFTH = (JPEG + bytes([n]) for n in range(5))


class Recording(RecordingRequest):
    """The recording Bot API, with the URLs called, that stops answering downloads after
    `downloads` of them (the network gone half-way) when it is given."""

    def __init__(self, files: dict[str, bytes], downloads: int | None = None) -> None:
        super().__init__()
        self.files = dict(files)
        self.downloads = downloads
        self.urls: list[str] = []

    async def do_request(
        self, url: str, method: str, *args: Any, **kwargs: Any
    ) -> tuple[int, bytes]:
        self.urls.append(url)
        if "/file/bot" in url and self.downloads is not None:
            if self.downloads == 0:
                raise NetworkError("connection reset")
            self.downloads -= 1
        return await super().do_request(url, method, *args, **kwargs)

    def asked_for(self) -> list[str]:
        return [str(c.params["file_id"]) for c in self.calls if c.method == "getFile"]


async def keys(db) -> dict[str, str | None]:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        rows = await session.execute(select(ReportPhoto.file_id, ReportPhoto.media_key))
    return dict(rows.all())


async def test_photos_are_fetched_once_and_the_rest_listed(db, clock, core, settings, capsys):
    await build_data(db, clock())
    store = channels_of(core).media.store
    await add_photos(db, store, "MH1", date(2026, 10, 20), ["AgADa", "AgADb"])
    # Not a picture; a file Telegram no longer has; a photo already in the store (not asked for).
    await add_photos(db, store, "MH2", date(2026, 9, 10), ["AgADgif", (THIRD, "jpg")])
    await add_photos(db, store, "MH6", date(2026, 6, 28), ["AgADgone"])
    api = Recording({"AgADa": FIRST, "AgADb": PNG, "AgADgif": b"GIF89a" + bytes(20)})
    local = settings.model_copy(update={"telegram_api_url": API_URL})

    assert await fetch_command(local, request=api, batch=2) == 0
    out, err = capsys.readouterr()
    assert out.strip().splitlines() == [
        "2 ảnh chưa tải về kho ảnh (bot chỉ giữ mã tệp Telegram của chúng), theo mô hình:",
        "• MH2, báo cáo kỳ 01/09/2026–30/09/2026: 1 ảnh",
        "• MH6, báo cáo kỳ 01/06/2026–30/06/2026: 1 ảnh",
        "fetched=2 failed=2 remaining=2",
    ]
    assert "Không tải được ảnh AgADgif của MH2 (không phải ảnh JPEG, PNG hay WebP)." in err
    assert "Không tải được ảnh AgADgone của MH6 (Telegram không còn giữ tệp này: " in err
    # DVK_TELEGRAM_API_URL is where the bot and its downloads go.
    assert api.urls and all(url.startswith(API_URL + "/") for url in api.urls)
    assert api.asked_for() == ["AgADa", "AgADb", "AgADgif", "AgADgone"]
    found = await keys(db)
    assert found["AgADa"] == key_for(FIRST, "jpg") and found["AgADb"] == key_for(PNG, "png")
    assert found["AgADgif"] is None and found["AgADgone"] is None
    assert await store.get(key_for(FIRST, "jpg")) == FIRST
    assert await store.get(key_for(PNG, "png")) == PNG

    # Again: only what is still missing is asked for.
    again = Recording({"AgADgone": FOURTH})
    assert await fetch_command(settings, request=again) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == "fetched=1 failed=1 remaining=1"
    assert again.asked_for() == ["AgADgif", "AgADgone"]
    assert (await keys(db))["AgADgone"] == key_for(FOURTH, "jpg")


async def test_a_network_failure_half_way_keeps_what_was_fetched(db, clock, core, settings, capsys):
    await build_data(db, clock())
    store = channels_of(core).media.store
    ids = ["AgAD1", "AgAD2", "AgAD3", "AgAD4", "AgAD5"]
    await add_photos(db, store, "MH1", date(2026, 10, 20), ids[:3])
    await add_photos(db, store, "MH1", date(2026, 12, 2), ids[3:])
    files = dict(zip(ids, (FIRST, SECOND, THIRD, FOURTH, FIFTH), strict=True))

    # Three downloads go through, then the network is gone, in the middle of the second batch.
    api = Recording(files, downloads=3)
    assert await fetch_command(settings, request=api, batch=2) == 1
    out, err = capsys.readouterr()
    assert "Không kết nối được Telegram (connection reset)" in err
    assert out.strip().splitlines() == [
        "2 ảnh chưa tải về kho ảnh (bot chỉ giữ mã tệp Telegram của chúng), theo mô hình:",
        "• MH1, báo cáo kỳ 01/11/2026–30/11/2026: 2 ảnh",
        "fetched=3 failed=1 remaining=2",
    ]
    assert api.asked_for() == ids[:4]  # stopped at the first that failed
    found = await keys(db)
    assert [found[i] is not None for i in ids] == [True, True, True, False, False]

    # The network is back: the rest, and nothing twice.
    api = Recording(files)
    assert await fetch_command(settings, request=api, batch=2) == 0
    assert capsys.readouterr().out.strip().splitlines() == ["fetched=2 failed=0 remaining=0"]
    assert api.asked_for() == ids[3:]
    found = await keys(db)
    assert [found[i] for i in ids] == [
        key_for(content, "jpg") for content in (FIRST, SECOND, THIRD, FOURTH, FIFTH)
    ]
    assert await fetch_command(settings, request=Recording(files)) == 0
    assert capsys.readouterr().out.strip().splitlines() == [
        "Không còn ảnh nào cần tải từ Telegram.",
        "fetched=0 failed=0 remaining=0",
    ]


async def test_a_refused_token_fetches_nothing(db, clock, core, settings, capsys):
    await build_data(db, clock())
    await add_photos(db, channels_of(core).media.store, "MH6", date(2026, 6, 28), ["AgADx"])
    api = Recording({"AgADx": FIRST})
    api.fail_next["getMe"] = (401, {"ok": False, "error_code": 401, "description": "Unauthorized"})
    assert await fetch_command(settings, request=api) == 1
    out, err = capsys.readouterr()
    assert err.startswith("Không kết nối được Telegram (")
    assert out.strip().splitlines()[-2:] == [
        "• MH6, báo cáo kỳ 01/06/2026–30/06/2026: 1 ảnh",
        "fetched=0 failed=0 remaining=1",
    ]
    assert api.asked_for() == []


async def test_without_a_token_the_command_line_lists_them(
    db, clock, core, database_url, monkeypatch, tmp_path, capsys
):
    await build_data(db, clock())
    await add_photos(db, channels_of(core).media.store, "MH1", date(2026, 10, 20), ["AgADx"])
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DVK_TELEGRAM_TOKEN", raising=False)
    monkeypatch.setenv("DVK_DATABASE_URL", database_url)
    assert await asyncio.to_thread(main, ["media", "fetch"]) == 1
    out, err = capsys.readouterr()
    assert "Chưa đặt DVK_TELEGRAM_TOKEN: không tải được ảnh từ Telegram." in err
    assert out.strip().splitlines()[-2:] == [
        "• MH1, báo cáo kỳ 01/10/2026–31/10/2026: 1 ảnh",
        "fetched=0 failed=0 remaining=1",
    ]
