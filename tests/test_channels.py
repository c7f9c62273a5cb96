"""The channel seam: the registry of channel descriptions is complete before the first update is
handled, and the shared fallback renders for a channel that lacks buttons, edits, documents and
uploaded pictures, as Zalo's bot platform does (driven here through a recording fake channel)."""

from __future__ import annotations

from dataclasses import FrozenInstanceError
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.channels import Capabilities, Channel, ChannelNotReady, Rates, channels_of
from bot.delivery import NO_MESSAGE_ID, ChatId, Output, outbox_transport
from bot.sender import Sender
from bot.telegram.app import build_application, post_init
from bot.terminal import TerminalChat
from handlers.core.types import Choice, Outbound
from language.texts import Texts
from tests.botapi import RecordingRequest
from tests.test_sender import person, queue

# What Zalo's bot platform offers: no buttons, no edits, no documents, pictures only by a public
# URL, 2.000 characters a message.
ZALO_LIKE = Capabilities(
    buttons=False, edits=False, documents=False, photo_bytes=False, photo_url=True, text_limit=2000
)


class FakeChannel(Output):
    """Records the platform calls the shared delivery makes."""

    def __init__(self, capabilities: Capabilities = ZALO_LIKE, **options: Any) -> None:
        super().__init__(capabilities, texts=Texts("vi"), **options)
        self.calls: list[tuple[str, Any]] = []
        self.offered: list[tuple[list[str], bool]] = []

    async def send_text(self, chat_id: ChatId, text: str, choices: list[list[Choice]]) -> str:
        assert choices == [], "a channel without buttons is never asked to show them"
        self.calls.append(("text", text))
        return f"m{len(self.calls)}"

    async def send_photo_url(self, chat_id: ChatId, url: str) -> None:
        self.calls.append(("photo_url", url))

    def offer(self, chat_id: ChatId, options: list[Choice], free_text: bool) -> None:
        self.offered.append(([o.data for o in options], free_text))


CHOICES = [[Choice("Tập thể", "f:kind:1"), Choice("Cá nhân", "f:kind:2")], [Choice("Huỷ", "x")]]


# --- the registry --------------------------------------------------------------------------------


async def test_the_registry_is_complete_before_the_first_update(settings, core, chat):
    # The `app` fixture has run start-up (initialize, then post_init), as `dvk run` does.
    channels = channels_of(core)
    assert channels.missing() == []
    assert channels.invite_link("telegram", "ABC") == "https://t.me/dvk_test_bot?start=ABC"
    assert channels.invite_link("terminal", "ABC") == "/start ABC"
    assert channels.file_fetcher("telegram") is not None
    assert channels["telegram"].rates == Rates(per_second=settings.send_rate, overall=30)
    with pytest.raises(FrozenInstanceError):
        core.config.channels = channels  # type: ignore[misc]


async def test_the_invite_link_waits_for_the_username_learned_at_start_up(settings, core):
    api = RecordingRequest()
    app = build_application(settings, core, request=api)
    channels = channels_of(core)
    assert channels.missing() == ["telegram.username"]
    with pytest.raises(ChannelNotReady):
        core.config.invite_link("telegram", "ABC")
    await app.initialize()
    try:
        await post_init(app)
        assert channels.missing() == []
        # The core, built before, reads the same view: nothing was assigned to it.
        assert core.config.invite_link("telegram", "ABC") == "https://t.me/dvk_test_bot?start=ABC"
    finally:
        await app.shutdown()


async def test_the_terminal_is_complete_without_start_up(core):
    lines: list[str] = []
    TerminalChat(core, "an", lines.append)
    assert channels_of(core)["terminal"].missing() == []
    fetch = core.config.channels.file_fetcher("terminal")
    assert fetch is not None
    assert (await fetch(__file__)).startswith(b'"""The channel seam')


# --- the shared fallback --------------------------------------------------------------------------


async def test_choices_become_numbered_lines_and_are_remembered():
    channel = FakeChannel()
    await channel.deliver("7", Outbound("Đăng ký cho ai?", CHOICES))
    assert channel.calls == [("text", "Đăng ký cho ai?\n  [1] Tập thể\n  [2] Cá nhân\n  [3] Huỷ")]
    assert channel.offered == [(["f:kind:1", "f:kind:2", "x"], False)]


async def test_where_a_number_is_an_answer_options_are_marked():
    channel = FakeChannel()
    await channel.deliver("7", Outbound("Bao nhiêu người?", [[Choice("Bỏ qua", "s")]], True))
    assert channel.calls == [("text", "Bao nhiêu người?\n  [#1] Bỏ qua")]
    assert channel.offered == [(["s"], True)]


async def test_a_long_text_is_split_at_the_channels_limit_with_the_options_last():
    channel = FakeChannel()
    text = "\n".join(f"dòng {i}: " + "x" * 90 for i in range(30))
    await channel.deliver("7", Outbound(text, CHOICES))
    parts = [value for kind, value in channel.calls if kind == "text"]
    assert len(parts) == 2 and all(len(part) <= 2000 for part in parts)
    assert "\n".join(parts).startswith(text)
    assert parts[-1].endswith("  [3] Huỷ")


async def test_a_document_becomes_a_notice_where_nothing_can_be_sent(tmp_path):
    channel = FakeChannel()
    path = tmp_path / "dan-van-kheo.xlsx"
    path.write_bytes(b"PK")
    await channel.deliver("7", Outbound("✅ Xong.", document=("mau.xlsx", b"PK")))
    await channel.deliver("7", Outbound("✅ Xong.", document_file=(path.name, path)))
    assert channel.calls == [
        ("text", Texts("vi")("channel-file-not-here", name="mau.xlsx")),
        ("text", "✅ Xong."),
        ("text", Texts("vi")("channel-file-not-here", name="dan-van-kheo.xlsx")),
        ("text", "✅ Xong."),
    ]


async def test_a_document_and_a_picture_become_links_where_the_bot_can_publish_them():
    published: list[tuple[str, bytes]] = []

    async def publish(name: str, content: bytes) -> str:
        published.append((name, content))
        return f"https://dvk.example/media/{len(published)}"

    channel = FakeChannel(publish=publish)
    await channel.deliver("7", Outbound("Thống kê", document=("mau.xlsx", b"PK"), photo=b"PNG"))
    assert published == [("mau.xlsx", b"PK"), ("chart.png", b"PNG")]
    assert channel.calls == [
        ("text", "📎 Tệp mau.xlsx: https://dvk.example/media/1"),
        ("text", "Thống kê"),
        ("photo_url", "https://dvk.example/media/2"),
    ]


async def test_a_picture_becomes_a_notice_where_it_cannot_be_published():
    channel = FakeChannel()
    await channel.deliver("7", Outbound("Thống kê", photo=b"PNG"))
    assert channel.calls == [("text", "Thống kê"), ("text", Texts("vi")("channel-photo-not-here"))]


async def test_progress_is_sent_anew_where_nothing_can_be_edited():
    tracked: list[tuple[str, str, str]] = []

    async def track(key: str, chat_id: str, message_id: str) -> None:
        tracked.append((key, chat_id, message_id))

    channel = FakeChannel(track=track)
    await channel.deliver(7, Outbound("📣 đã gửi 0/2", track="broadcast:1"))
    await channel.edit(7, tracked[0][2], "📣 đã gửi 1/2")
    assert tracked == [("broadcast:1", "7", "m1")]
    assert channel.calls == [("text", "📣 đã gửi 0/2"), ("text", "📣 đã gửi 1/2")]
    editable = FakeChannel(Capabilities(True, True, True, True, True, None))
    await editable.edit(7, NO_MESSAGE_ID, "📣 đã gửi 1/2")  # no id kept: sent anew
    assert editable.calls == [("text", "📣 đã gửi 1/2")]


async def test_the_outbox_goes_through_the_same_delivery():
    channel = FakeChannel()
    send = outbox_transport(channel)
    payload = {
        "text": "Báo cáo tháng này?",
        "choices": [[{"label": "Báo cáo", "data": "r:1"}, {"label": "Để sau", "data": "r:0"}]],
    }
    await send("7", payload)
    assert channel.calls == [("text", "Báo cáo tháng này?\n  [1] Báo cáo\n  [2] Để sau")]
    assert channel.offered == [(["r:1", "r:0"], False)]


# --- the sender keeps to the channel's declared rates and quota ----------------------------------


async def test_the_sender_keeps_to_a_channels_monthly_quota(db, clock):
    channel = Channel(
        "fake",
        ZALO_LIKE,
        invite="/start {code}",
        rates=Rates(per_second=10, per_chat_interval=0, monthly_quota=2),
    )
    delivered: list[str] = []

    async def deliver(chat_id: str, payload: dict[str, Any]) -> None:
        delivered.append(payload["text"])

    member = await person(db, clock, "9", channel="fake")
    for text in ("một", "hai", "ba"):
        await queue(db, clock, member, text)

    async def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)

    sender = Sender.for_channel(db, channel, deliver, clock=clock, sleep=sleep)
    assert sender.pacer.per_chat_interval == 0
    assert await sender.run_once() == 2
    assert await sender.run_once() == 0  # the quota of this month is spent
    clock.now = datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    assert await sender.run_once() == 1
    assert delivered == ["một", "hai", "ba"]


async def test_the_terminal_shows_numbered_options_and_remembers_them(core):
    lines: list[str] = []
    terminal = TerminalChat(core, "an", lines.append)
    await terminal.output.deliver("an", Outbound("Chọn", CHOICES))
    # Lettered: "a2" presses its second option later, whatever was shown since.
    assert lines == ["", "[a] Chọn\n  [1] Tập thể\n  [2] Cá nhân\n  [3] Huỷ"]
    assert [o.data for o in terminal.options] == ["f:kind:1", "f:kind:2", "x"]
