"""Choices without buttons: a reply is read against the person's current menu, stored in the
database (so a new core over the same database reads "2" the same way); back, skip and cancel are
words; messages the bot sends on its own name the command to type and leave the menu alone."""

from __future__ import annotations

from sqlalchemy import select

from bot.channels import ZALO
from bot.delivery import outbox_transport
from bot.demo import seed
from bot.terminal import TerminalChat
from handlers.core import buttons
from handlers.core.numbered import Menu, plain, read
from handlers.core.router import Core
from handlers.core.types import Choice, Outbound
from handlers.member.reminders import nudge_payload
from storage.models import Conversation
from storage.records.menus import ChannelMenu
from tests.test_channels import FakeChannel


async def seeded(db, clock) -> None:
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())


async def form_state(db) -> list[tuple[str, int]]:
    async with db.session() as session:
        rows = await session.execute(select(Conversation.form, Conversation.version))
        return [tuple(row) for row in rows]


def test_a_reply_is_read_as_a_number_a_label_or_a_word():
    menu = Menu((Choice("Tập thể", "f:1:o:t"), Choice("Cá nhân", "f:1:o:c")))
    assert read(menu, "2").choice == "f:1:o:c"
    assert read(menu, "2.").choice == "f:1:o:c"
    assert read(menu, "#1").choice == "f:1:o:t"
    assert read(menu, "  CA NHAN ").choice == "f:1:o:c"
    assert read(menu, "3").refused == 3
    assert read(menu, "quay lai").text == "/quaylai"
    assert read(menu, "Bỏ qua").text == "/boqua"
    assert read(menu, "huỷ").text == "/huy"
    numeric = Menu((Choice("Giữ nguyên", "f:1:o:k"),), free_text=True)
    assert read(numeric, "25").text == "25"  # a numeric answer
    assert read(numeric, "#1").choice == "f:1:o:k"
    assert read(numeric, "#4").refused == 4
    assert plain("✅ Gửi đăng ký") == "gui dang ky"
    # A command is never an option, even one of the same name.
    card = Menu((Choice("✅ Duyệt", "rv:a:1"), Choice("✖ Không duyệt", "rv:r:1")))
    assert read(card, "duyệt").choice == "rv:a:1"
    assert read(card, "/duyet").text == "/duyet"


async def test_a_command_typed_under_a_card_is_the_command_not_its_option(db, core, clock):
    """On Zalo a coordinator looks at a registration («✅ Duyệt» is option 1), then types /duyet
    to see the queue again: the queue is shown again, nothing is approved."""
    from storage.models import Model

    await seeded(db, clock)
    an = TerminalChat(core, "an", lambda line: None)
    for line in (
        "/dangky",
        "2",
        "Sổ tay dân vận điện tử",
        "9",
        "Số hóa sổ tay",
        "Mọi hộ có sổ tay",
        "sổ tay",
        "cuốn",
        "120",
        "2",
        "01/12/2026",
        "30/06/2027",
        "1",
    ):
        await an.say(line)
    lines: list[str] = []
    coordinator = TerminalChat(core, "phutrach", lines.append, looks=ZALO)
    await coordinator.say("/duyet")
    assert "[1] ✅ Duyệt" in "\n".join(lines)
    lines.clear()
    await coordinator.say("/duyet")
    shown = "\n".join(lines)
    assert "Sổ tay dân vận điện tử" in shown and "[1] ✅ Duyệt" in shown, shown
    async with db.session() as session:
        assert (await session.scalar(select(Model.status))) == "submitted"


async def test_a_registration_answered_by_number_label_and_words_as_zalo(db, core, clock):
    await seeded(db, clock)
    lines: list[str] = []
    an = TerminalChat(core, "an", lines.append, looks=ZALO)
    await an.say("/dangky")
    shown = "\n".join(lines)
    assert "  [1] Tập thể\n  [2] Cá nhân" in shown
    assert "«hủy» để hủy" in shown  # the words, explained once in this form
    assert "Quay lại" not in shown and "Hủy" not in shown.replace("«hủy»", "")  # not numbered
    before = await form_state(db)
    lines.clear()
    await an.say("7")
    assert lines[-1].startswith("Không có lựa chọn số 7. Hãy gõ một số từ 1 đến 2:")
    assert "  [2] Cá nhân" in lines[-1]
    assert await form_state(db) == before  # refused: nothing changed
    lines.clear()
    await an.say("ca nhan")
    assert "Tên mô hình" in lines[-1] and "Gõ số để chọn" not in lines[-1]
    await an.say("quay lại")
    assert "Mô hình đăng ký cho tập thể hay cá nhân?" in lines[-1]
    await an.say("1")
    assert "Tên tập thể" in lines[-1]
    await an.say("hủy")
    assert lines[-1].startswith("Hủy «Đăng ký mô hình»? Những gì bạn đã điền sẽ bị bỏ.")
    assert "  [1] 🗑 Hủy, bỏ phần đã điền\n  [2] ▶️ Điền tiếp" in lines[-1]
    assert len(await form_state(db)) == 1  # asked first
    await an.say("hủy")  # the word again confirms, as /huy does
    assert "Đã hủy «Đăng ký mô hình»" in lines[-1]
    assert await form_state(db) == []


async def test_a_typed_number_at_a_numeric_question_is_an_answer_and_hash_n_an_option(
    db, core, clock
):
    await seeded(db, clock)
    lines: list[str] = []
    an = TerminalChat(core, "an", lines.append)
    for line in ("/dangky", "1", "Chi đoàn Thanh niên"):
        await an.say(line)
    async with db.session() as session:
        stored = await session.scalar(select(ChannelMenu))
    assert stored is not None and stored.menu["free_text"] is True  # "how many people?"
    await an.say("25")
    async with db.session() as session:
        conv = await session.scalar(select(Conversation))
    assert conv is not None and conv.state["answers"].get("headcount") in (25, "25")


async def test_the_menu_survives_a_restart(db, core, clock, settings):
    await seeded(db, clock)
    lines: list[str] = []
    await TerminalChat(core, "an", lines.append).say("/dangky")
    async with db.session() as session:
        stored = await session.scalar(select(ChannelMenu))
    assert stored is not None and [label for label, _ in stored.menu["options"]] == [
        "Tập thể",
        "Cá nhân",
    ]
    # A new core and terminal over the same database (a restart, another replica).
    again = Core(db, core.config, clock)
    after: list[str] = []
    await TerminalChat(again, "an", after.append).say("2")
    assert "Tên mô hình" in after[-1]


async def test_a_reminder_names_its_command_and_leaves_the_forms_menu(db, core, clock):
    await seeded(db, clock)
    lines: list[str] = []
    an = TerminalChat(core, "an", lines.append, looks=ZALO)
    await an.say("/dangky")
    channel = FakeChannel()
    reminder = {
        "text": "Đến hạn báo cáo «Mô hình A».",
        "choices": [[{"label": "Báo cáo ngay", "data": buttons.REPORT(42)}]],
    }
    await outbox_transport(channel)("an", reminder)
    await outbox_transport(channel)("an", nudge_payload(core.texts, _Stale()))
    texts = [text for kind, text in channel.calls if kind == "text"]
    assert texts[0] == "Đến hạn báo cáo «Mô hình A».\n👉 Báo cáo ngay: gõ /baocao 42"
    assert texts[1].endswith(": gõ /tieptuc") and "[1]" not in texts[1]
    assert channel.offered == []
    await an.say("2")  # still the form's menu: «Cá nhân»
    assert "Tên mô hình" in lines[-1]


class _Stale:
    form = "register"


async def test_thirty_options_are_split_within_the_limit_without_breaking_an_option():
    channel = FakeChannel()
    options = [[Choice(f"Chi bộ số {i:02} — " + "đơn vị " * 8, f"m:{i}")] for i in range(1, 31)]
    await channel.deliver("7", Outbound("Chọn chi bộ:", options))
    parts = [text for kind, text in channel.calls if kind == "text"]
    assert len(parts) == 2 and all(len(part) <= 2000 for part in parts)
    lines = "\n".join(parts).split("\n")
    assert lines[0] == "Chọn chi bộ:"
    assert [line.split("]")[0] for line in lines[1:]] == [f"  [{i}" for i in range(1, 31)]


async def test_zalo_hints_say_what_to_type_and_only_where_they_fit(db, core, clock):
    await seeded(db, clock)
    lines: list[str] = []
    guest = TerminalChat(core, "khach", lines.append, looks=ZALO)
    await guest.say("/start DEMO-TV")
    await guest.say("đồng ý")  # the personal-data notice
    # The name has no options: no word about typing numbers under it.
    assert not any("Gõ số để chọn" in line for line in lines), lines
    lines.clear()
    await guest.say("Trần Thị Bình")
    # The category is the first question with options: explained there, once.
    assert "Gõ số để chọn" in "\n".join(lines)
    assert "«bỏ qua» để bỏ qua câu không bắt buộc" in "\n".join(lines)
    lines.clear()
    await guest.say("1")
    # The phone is optional: skipped by a word typed, there is no button to press.
    shown = "\n".join(lines)
    assert "(Không bắt buộc — gõ «bỏ qua» nếu không có.)" in shown
    assert "bấm" not in shown and "Gõ số để chọn" not in shown


async def test_the_terminal_as_zalo_takes_no_file_and_asks_through_the_upload_page(
    db, core, clock, tmp_path
):
    await seeded(db, clock)
    lines: list[str] = []
    admin = TerminalChat(core, "admin", lines.append, looks=ZALO)
    await admin.say("/nhapexcel")
    # As on Zalo without DVK_PUBLIC_URL: no file in the chat, and no page to upload it to.
    assert "trang tải tệp lên chưa được bật (cần DVK_PUBLIC_URL)" in "\n".join(lines)
    workbook = tmp_path / "du-lieu.xlsx"
    workbook.write_bytes(b"PK\x03\x04")
    lines.clear()
    await admin.say(f"@{workbook}")
    assert lines == [
        "Trên Zalo không gửi được tệp: ở bước cần tệp, bot đưa đường dẫn trang tải lên "
        "(cần DVK_PUBLIC_URL)."
    ]
