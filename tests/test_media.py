"""The media store and its signed links: photos are checked and kept by a content key that cannot
leave the folder; a Telegram photo sent with a report is downloaded into the store as it
arrives; links served by the project's HTTP server work until they expire, and only as signed;
a channel without documents publishes a file as such a link; in polling mode the server runs
when DVK_PUBLIC_URL is set."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr, ValidationError
from sqlalchemy import select
from starlette.applications import Starlette

from bot.channels import Capabilities, channels_of
from bot.config import Settings
from bot.delivery import ChatId, Output
from bot.demo import seed
from bot.http import make_app
from bot.media_links import FILES, MEDIA, Links, Media, media_of, store_photo_from_url
from bot.runtime import build_core
from bot.telegram_run import serve
from handlers.core.types import Choice, Outbound
from language.texts import Texts
from storage.media import FolderStore, MediaRefused, file_key, photo_key, store_photo
from storage.models import ReportPhoto
from tests.botapi import JPEG
from tests.conftest import TOKEN, Clock
from tests.fakebotapi import FakeBotApi, running
from tests.test_registration import join, register_quickly
from tests.test_reports import HANOI_0900_20_NOV, approve_all, report
from tests.test_webhook import STEP_TIMEOUT, free_port

PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)
WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8 " + bytes(32)
GIF = b"GIF89a" + bytes(32)
PUBLIC_URL = "https://bot.example.vn"
LINK_SECRET = "a-long-enough-link-secret"
T = Texts("vi")


@asynccontextmanager
async def client_of(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
        yield client


def linked(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"public_url": PUBLIC_URL, "link_secret": SecretStr(LINK_SECRET)}
    )


# --- the store --------------------------------------------------------------------------------


async def test_a_photo_is_kept_once_under_its_content_key(tmp_path: Path) -> None:
    store = FolderStore(tmp_path)
    key = await store_photo(store, JPEG, max_bytes=1024)
    assert key.endswith(".jpg") and len(key) == 64 + 4
    assert await store.exists(key)
    assert await store.get(key) == JPEG
    assert await store_photo(store, JPEG, max_bytes=1024) == key  # the same bytes, the same key
    assert photo_key(PNG, max_bytes=1024).endswith(".png")
    assert photo_key(WEBP, max_bytes=1024).endswith(".webp")
    other = key.replace(key[0], "0" if key[0] != "0" else "1", 1)
    assert await store.get(other) is None and not await store.exists(other)
    # Written through a temporary file that was renamed: nothing else is left in the folder.
    assert files_under(tmp_path) == [key]


@pytest.mark.parametrize(
    ("content", "refusal"),
    [
        (GIF, "media-photo-type"),
        (b"", "media-photo-type"),
        (JPEG + bytes(1024), "media-photo-too-large"),
    ],
)
async def test_a_wrong_type_or_an_oversize_photo_is_refused(
    tmp_path: Path, content: bytes, refusal: str
) -> None:
    store = FolderStore(tmp_path)
    with pytest.raises(MediaRefused) as refused:
        await store_photo(store, content, max_bytes=1024)
    assert refused.value.key == refusal
    assert T(refused.value.key, **refused.value.params)  # the person is told, in the catalog
    assert files_under(tmp_path) == []


@pytest.mark.parametrize(
    "key",
    [
        "../outside.jpg",
        "/etc/passwd",
        "aa/../../outside.jpg",
        "." * 64 + ".jpg",
        "A" * 64 + ".jpg",
        "a" * 64 + ".jpg/../../x",
        "a" * 64,
        "",
    ],
)
async def test_a_key_cannot_name_anything_outside_the_folder(tmp_path: Path, key: str) -> None:
    root = tmp_path / "media"
    (tmp_path / "outside.jpg").write_bytes(JPEG)
    store = FolderStore(root)
    with pytest.raises(ValueError):
        await store.put(key, JPEG)
    assert await store.get(key) is None
    assert not await store.exists(key)
    assert not root.exists()


def test_a_published_file_is_typed_by_its_name_and_a_picture_by_its_bytes() -> None:
    assert file_key("bao-cao.xlsx", b"PK").endswith(".xlsx")
    assert file_key("chart.png", PNG).endswith(".png")
    assert file_key("chart.png", b"<html>").endswith(".bin")  # never served as a picture
    assert file_key("../../x.sh", b"#!").endswith(".bin")


# --- Telegram photos arrive in the store ------------------------------------------------------


@pytest.fixture
async def member(db, clock, chat):  # type: ignore[no-untyped-def]
    """A member with an approved model to report on (as in tests/test_reports.py)."""
    clock.now = HANOI_0900_20_NOV
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())
    person = await join(chat)
    await register_quickly(person, "Chuyển đổi số trong giảng dạy")
    await approve_all(db)
    return person


def files_under(root: Path, pattern: str = "*") -> list[str]:
    return [p.name for p in root.rglob(pattern) if p.is_file()]


async def test_a_telegram_photo_sent_with_a_report_lands_in_the_store(
    member, db, settings: Settings, api
) -> None:
    replies = await report(member, photos=1)
    assert replies[0].startswith("✅ Đã gửi báo cáo")
    async with db.session() as session:
        photos = (await session.scalars(select(ReportPhoto))).all()
    assert [p.file_id for p in photos] == ["AgAD"]
    key = photos[0].media_key
    assert key is not None and key.endswith(".jpg")
    assert await FolderStore(settings.media_dir).get(key) == JPEG
    assert ("getFile", "AgAD") in [(c.method, c.params.get("file_id")) for c in api.calls]


async def test_a_photo_that_is_not_a_picture_or_too_large_is_refused_with_a_text(
    member, db, settings: Settings, api
) -> None:
    await member.send("/baocao")
    await member.send("Hoàn thành bài giảng điện tử cho khối 10")
    assert (await member.send("500"))[0].startswith("Gửi ảnh minh chứng")
    assert await member.send_photo(content=GIF, file_id="gif") == [T("media-photo-type")]
    seen = len(api.calls)
    too_large = settings.media_max_bytes() + 1
    assert await member.send_photo(file_id="big", size=too_large) == [
        T("media-photo-too-large", limit=10)
    ]
    # Refused from what Telegram says it weighs: nothing was downloaded.
    assert "getFile" not in [c.method for c in api.calls[seen:]]
    assert (await member.send_photo())[0].startswith("Đã nhận 1 ảnh.")
    assert len(files_under(Path(settings.media_dir))) == 1  # the one JPEG


# --- signed links -----------------------------------------------------------------------------


@pytest.fixture
def media(tmp_path: Path, clock: Clock) -> Media:
    links = Links(PUBLIC_URL, LINK_SECRET, clock=clock)
    return Media(FolderStore(tmp_path / "media"), max_bytes=1024, links=links)


def path_of(url: str) -> str:
    assert url.startswith(PUBLIC_URL + "/")
    return url[len(PUBLIC_URL) :]


async def test_a_signed_link_serves_the_bytes_until_it_expires(media: Media, clock: Clock) -> None:
    picture = await media.publish("chart.png", PNG)
    download = await media.publish("Báo cáo tháng 11.xlsx", b"PK\x03\x04 workbook")
    assert f"/{MEDIA}/" in picture and f"/{FILES}/" in download
    async with client_of(make_app(media=media)) as client:
        shown = await client.get(path_of(picture))
        assert (shown.status_code, shown.content) == (200, PNG)
        assert shown.headers["content-type"] == "image/png"
        assert shown.headers["x-content-type-options"] == "nosniff"
        got = await client.get(path_of(download))
        assert (got.status_code, got.content) == (200, b"PK\x03\x04 workbook")
        assert got.headers["content-type"].startswith("application/vnd.openxmlformats")
        assert (
            "filename*=UTF-8''B%C3%A1o%20c%C3%A1o%20th%C3%A1ng%2011.xlsx"
            in (got.headers["content-disposition"])
        )
        clock.advance(hours=23, minutes=59)
        assert (await client.get(path_of(picture))).status_code == 200
        clock.advance(minutes=2)
        assert (await client.get(path_of(picture))).status_code == 403
        assert (await client.get(path_of(download))).status_code == 403


async def test_a_tampered_or_foreign_token_is_refused_and_a_missing_file_is_not_found(
    media: Media, tmp_path: Path, clock: Clock
) -> None:
    picture = path_of(await media.publish("chart.png", PNG))
    token = picture.rsplit("/", 1)[1]
    payload, signature = token.split(".")
    other_key = file_key("x.png", PNG + b"other")
    assert media.links is not None
    forged = media.links.token(MEDIA, other_key).split(".")[0] + "." + signature
    foreign = Links(PUBLIC_URL, "another-secret-of-length", clock=clock).url(MEDIA, other_key)
    async with client_of(make_app(media=media)) as client:
        for bad in (
            f"/media/{payload}.{signature[:-2]}AA",  # a changed signature
            f"/media/{forged}",  # another key under this signature
            path_of(foreign),  # signed with another secret
            f"/files/{token}",  # signed for the other route
            "/media/not-a-token",
        ):
            assert (await client.get(bad)).status_code == 403, bad
        # A token never holds a slash: a path is not even routed.
        assert (await client.get("/media/..%2F..%2Fetc%2Fpasswd")).status_code == 404
        # Signed here, but the store does not hold it.
        missing = media.links.url(MEDIA, other_key)
        assert (await client.get(path_of(missing))).status_code == 404
        # No directory is listed, and nothing but GET is answered.
        assert (await client.get("/media/")).status_code == 404
        assert (await client.get("/files")).status_code == 404
        assert (await client.post(picture)).status_code == 405


def test_links_need_a_secret_when_there_is_a_public_address() -> None:
    with pytest.raises(ValidationError) as error:
        Settings(_env_file=None, public_url=PUBLIC_URL)
    assert error.value.errors()[0]["loc"] == ("link_secret",)
    with pytest.raises(ValidationError):
        Settings(_env_file=None, public_url=PUBLIC_URL, link_secret="short")
    with pytest.raises(ValidationError):
        Settings(_env_file=None, public_url="bot.example.vn", link_secret=LINK_SECRET)
    assert Settings(_env_file=None, link_secret=None).public_url is None
    media = media_of(Settings(_env_file=None, public_url=PUBLIC_URL + "/", link_secret=LINK_SECRET))
    assert media.links is not None and media.links.base_url == PUBLIC_URL


# --- publishing on a channel without documents ------------------------------------------------


class Plain(Output):
    """A channel with text only and pictures by URL, as Zalo is."""

    def __init__(self, publish) -> None:  # type: ignore[no-untyped-def]
        capabilities = Capabilities(
            buttons=False,
            edits=False,
            documents=False,
            photo_bytes=False,
            photo_url=True,
            text_limit=2000,
        )
        super().__init__(capabilities, publish=publish)
        self.texts_sent: list[str] = []
        self.photo_urls: list[str] = []

    async def send_text(self, chat_id: ChatId, text: str, choices: list[list[Choice]]) -> str:
        self.texts_sent.append(text)
        return "1"

    async def send_photo_url(self, chat_id: ChatId, url: str) -> None:
        self.photo_urls.append(url)


async def test_publish_on_a_channel_without_documents_gives_a_link_the_server_serves(
    settings: Settings, core, db, clock: Clock
) -> None:
    linked_core = build_core(linked(settings), db, clock)
    registry = channels_of(linked_core)
    output = Plain(registry.publish)
    await output.deliver("z1", Outbound("Đây là tệp xuất.", document=("xuat.xlsx", b"PK-data")))
    await output.deliver("z1", Outbound("Biểu đồ", photo=PNG))
    # The file goes first, as on Telegram, then the text.
    assert output.texts_sent[1:] == ["Đây là tệp xuất.", "Biểu đồ"]
    prefix = T("channel-file-link", name="xuat.xlsx", link="")
    assert output.texts_sent[0].startswith(prefix)
    link = output.texts_sent[0][len(prefix) :]
    [picture] = output.photo_urls
    async with client_of(make_app(media=registry.media)) as client:
        got = await client.get(path_of(link))
        assert (got.status_code, got.content) == (200, b"PK-data")
        shown = await client.get(path_of(picture))
        assert (shown.status_code, shown.content, shown.headers["content-type"]) == (
            200,
            PNG,
            "image/png",
        )

    # Without DVK_PUBLIC_URL there is no link: the person is told the file cannot come here.
    assert channels_of(core).publish is None
    unlinked = Plain(channels_of(core).publish)
    await unlinked.deliver("z1", Outbound("", document=("xuat.xlsx", b"PK-data")))
    assert unlinked.texts_sent == [T("channel-file-not-here", name="xuat.xlsx")]
    assert make_app(media=channels_of(core).media).routes[-1].path == "/healthz"


# --- photos from a URL (Zalo's) ---------------------------------------------------------------


async def streamed() -> AsyncIterator[bytes]:
    """A body without Content-Length, longer than the limit."""
    yield JPEG
    for _ in range(100):
        yield bytes(512)


async def test_a_photo_url_is_downloaded_within_the_limit(media: Media) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        match request.url.path:
            case "/ok.jpg":
                return httpx.Response(200, content=JPEG)
            case "/gif":
                return httpx.Response(200, content=GIF)
            case "/declared":
                return httpx.Response(200, content=JPEG, headers={"Content-Length": "5000"})
            case "/streamed":
                return httpx.Response(200, content=streamed())
            case "/slow":
                raise httpx.ReadTimeout("slow", request=request)
        return httpx.Response(404)

    async with httpx.AsyncClient(transport=httpx.MockTransport(answer)) as client:
        key = await store_photo_from_url(media, "https://zalo.example/ok.jpg", client=client)
        assert await media.store.get(key) == JPEG
        for path, refusal in (
            ("/gif", "media-photo-type"),
            ("/declared", "media-photo-too-large"),
            ("/streamed", "media-photo-too-large"),
            ("/slow", "media-photo-failed"),
            ("/gone", "media-photo-failed"),
        ):
            with pytest.raises(MediaRefused) as refused:
                await store_photo_from_url(media, f"https://zalo.example{path}", client=client)
            assert refused.value.key == refusal, path


# --- the server in polling mode ---------------------------------------------------------------


async def test_polling_mode_serves_links_when_a_public_address_is_set(
    settings: Settings, db
) -> None:
    port = free_port()
    with running(FakeBotApi(token=TOKEN)) as fake:
        polling = linked(settings).model_copy(
            update={"telegram_api_url": fake.url, "http_listen": "127.0.0.1", "http_port": port}
        )
        core = build_core(polling, db)
        registry = channels_of(core)
        assert registry.publish is not None
        link = await registry.publish("chart.png", PNG)
        stop = asyncio.Event()
        serving = asyncio.create_task(serve(polling, core, stop=stop))
        try:
            await asyncio.to_thread(
                fake.wait_for,
                lambda: [c for c in fake.calls if c.method == "getUpdates"],
                STEP_TIMEOUT,
                "polling",
            )
            async with httpx.AsyncClient(
                base_url=f"http://127.0.0.1:{port}", trust_env=False, timeout=STEP_TIMEOUT
            ) as client:
                shown = await client.get(path_of(link))
                assert (shown.status_code, shown.content) == (200, PNG)
                assert (await client.get("/healthz")).status_code == 200
        finally:
            stop.set()
            await asyncio.wait_for(serving, STEP_TIMEOUT)
        assert "setWebhook" not in [c.method for c in fake.calls]
        assert not fake.errors, fake.errors


def test_a_draft_keeps_each_photo_s_key_beside_its_file_id() -> None:
    from handlers.forms import engine
    from tests.test_form_groups import PHOTOS
    from tests.test_state_shapes import state_errors

    before_the_store = engine.add_photo(PHOTOS, engine.new_state(), "old")
    assert engine.photo_media(before_the_store, "photos") == [None]
    state = engine.add_photo(PHOTOS, before_the_store, "AgAD", "k" * 64 + ".jpg")
    closed = engine.close_photos(PHOTOS, state)
    for shown in (state, closed):
        assert engine.photo_ids(shown, "photos") == ["old", "AgAD"]
        assert engine.photo_media(shown, "photos") == [None, "k" * 64 + ".jpg"]
        assert state_errors(shown) == []
    assert engine.photo_media(engine.back(state), "photos") == [None]
