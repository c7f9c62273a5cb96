"""The Zalo Bot API client against a fake of the platform: one update per poll, idle polls,
webhooks, quotas and errors that never carry the token."""

from __future__ import annotations

import httpx
import pytest

from bot.zalo.api import NetworkError as ZaloNetworkError
from bot.zalo.api import QuotaExceeded, ZaloApi, ZaloError, parse_update
from tests.fakezalo import TOKEN, FakeZalo


@pytest.fixture
def zalo() -> FakeZalo:
    return FakeZalo()


@pytest.fixture
async def api(zalo: FakeZalo):  # type: ignore[no-untyped-def]
    client = httpx.AsyncClient(transport=zalo.transport())
    yield ZaloApi(TOKEN, api_url="https://zalo.test", client=client)
    await client.aclose()


async def test_one_update_per_poll_then_an_idle_poll(zalo, api):
    zalo.queue_text("u1", "/start", name="Nguyễn Văn An")
    zalo.queue_text("u2", "Xin chào")
    first = await api.get_update(poll_seconds=1)
    second = await api.get_update(poll_seconds=1)
    assert (first.user_id, first.text, first.display_name) == ("u1", "/start", "Nguyễn Văn An")
    assert (second.user_id, second.text, second.kind) == ("u2", "Xin chào", "text")
    assert first.private and first.message_id != second.message_id
    assert await api.get_update(poll_seconds=1) is None  # 408: nothing new, not an error


async def test_polling_while_a_webhook_is_set_is_an_error(zalo, api):
    await api.set_webhook("https://bot.example.vn/zalo", "s3cret-s3cret")
    assert zalo.webhook == {"url": "https://bot.example.vn/zalo", "secret_token": "s3cret-s3cret"}
    with pytest.raises(ZaloError) as raised:
        await api.get_update(poll_seconds=1)
    assert raised.value.code == 400
    await api.delete_webhook()
    assert await api.get_update(poll_seconds=1) is None


async def test_messages_are_checked_against_the_limit_before_sending(zalo, api):
    assert await api.send_message("u1", "x" * 2000)
    with pytest.raises(ValueError):
        await api.send_message("u1", "x" * 2001)
    assert zalo.texts("u1") == ["x" * 2000]


async def test_quota_exceeded_is_its_own_error(zalo, api):
    zalo.quota = 1
    await api.send_message("u1", "một")
    with pytest.raises(QuotaExceeded) as raised:
        await api.send_message("u1", "hai")
    assert raised.value.code == 429 and zalo.texts() == ["một"]


async def test_a_photo_is_fetched_by_zalo_during_the_call(zalo, api):
    fetched: list[str] = []

    async def fetch(url: str) -> tuple[int, bytes]:
        fetched.append(url)
        return (200, b"png") if url.endswith("ok.png") else (404, b"")

    zalo.fetch = fetch
    assert await api.send_photo("u1", "https://bot.example.vn/media/ok.png", "Biểu đồ")
    with pytest.raises(ZaloError):
        await api.send_photo("u1", "https://bot.example.vn/media/expired.png")
    assert fetched == [
        "https://bot.example.vn/media/ok.png",
        "https://bot.example.vn/media/expired.png",
    ]


async def test_errors_never_carry_the_token(zalo):
    wrong = ZaloApi(
        "999:wrong-token",
        api_url="https://zalo.test",
        client=httpx.AsyncClient(transport=zalo.transport()),
    )
    with pytest.raises(ZaloError) as raised:
        await wrong.get_me()
    assert raised.value.code == 401 and "wrong-token" not in str(raised.value)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}", request=request)

    down = ZaloApi(
        TOKEN,
        api_url="https://zalo.test",
        client=httpx.AsyncClient(transport=httpx.MockTransport(refuse)),
    )
    with pytest.raises(ZaloNetworkError) as raised:
        await down.send_message("u1", "xin chào")
    assert TOKEN not in str(raised.value) and TOKEN not in repr(raised.value.__cause__)


@pytest.mark.parametrize(
    "body",
    [
        {
            "event_name": "message.image.received",
            "message": {
                "from": {"id": "u9", "display_name": "Lan"},
                "chat": {"id": "u9", "chat_type": "PRIVATE"},
                "message_id": "m1",
                "date": 1764900000000,
                "photo_url": "https://f.zalo/p.jpg",
            },
        },
        {
            "ok": True,
            "result": {
                "event_name": "message.image.received",
                "message": {
                    "from": {"id": "u9", "display_name": "Lan"},
                    "chat": {"id": "u9", "chat_type": "PRIVATE"},
                    "message_id": "m1",
                    "date": 1764900000000,
                    "photo": "https://f.zalo/p.jpg",
                },
            },
        },
    ],
    ids=["bare-photo_url", "wrapped-photo"],
)
def test_deliveries_are_read_bare_or_wrapped(body):
    update = parse_update(body)
    assert update is not None
    assert (update.kind, update.user_id, update.photo_url) == (
        "image",
        "u9",
        "https://f.zalo/p.jpg",
    )
    assert update.sent_at is not None and update.sent_at.year == 2025


@pytest.mark.parametrize(
    "body",
    [
        None,
        [],
        {"event_name": "message.text.received"},
        {"ok": True, "result": None},
        {
            "event_name": "message.text.received",
            "message": {"from": {"id": "b", "is_bot": True}, "chat": {"id": "b"}},
        },
    ],
)
def test_what_is_not_a_readable_update_is_none(body):
    assert parse_update(body) is None


def test_a_group_message_is_not_private():
    update = parse_update(
        {
            "event_name": "message.text.received",
            "message": {
                "from": {"id": "u1"},
                "chat": {"id": "g1", "chat_type": "GROUP"},
                "text": "/help",
            },
        }
    )
    assert update is not None and not update.private and update.chat_id == "g1"
