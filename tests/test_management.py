"""Admins manage units (/suadonvi), coordinators (/phutrach), admins (/quantri) and fields
(/linhvuc); every one of these commands and buttons is refused to coordinators and members."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, insert, select

from bot.demo import seed
from bot.telegram.outbox import flush_outbox
from storage.models import (
    AuditEntry,
    Conversation,
    Field,
    Member,
    Membership,
    Model,
    Unit,
)
from storage.names import folded_name
from storage.periods import DEFAULT_TZ as VIETNAM
from storage.records.invites import pending_join_request
from storage.records.people import add_membership, find_identity, get_or_create_identity
from storage.records.units import unit_by_code
from tests.conftest import ADMIN_ID, make_coordinator
from tests.test_registration import join, register_quickly
from tests.test_statistics import thongke

NOT_ALLOWED = ["Bạn không có quyền thực hiện việc này."]
STALE = "Nút này thuộc một tin nhắn cũ và không còn dùng được."
COMMANDS = ("/suadonvi", "/phutrach", "/quantri", "/linhvuc")


@pytest.fixture
async def seeded(db, clock):
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())


async def unit(db, code: str) -> Unit:
    async with db.session() as session:
        return await unit_by_code(session, code=code)


async def actions(db, prefix: str) -> list[str]:
    async with db.session() as session:
        result = await session.scalars(
            select(AuditEntry.action)
            .where(AuditEntry.action.startswith(prefix))
            .order_by(AuditEntry.id)
        )
        return list(result.all())


async def add_person(db, clock, telegram_id: int, name: str, unit_code: str) -> int:
    """A Telegram user with a name, member of a unit, set up in the database."""
    async with db.session() as session:
        identity = await get_or_create_identity(
            session,
            channel="telegram",
            external_id=str(telegram_id),
            chat_id=str(telegram_id),
            display_name=None,
            now=clock(),
        )
        identity.member.full_name = name
        identity.member.category = "cong_chuc"
        target = await unit_by_code(session, code=unit_code)
        await add_membership(
            session, member_id=identity.member_id, unit_id=target.id, role="member", now=clock()
        )
        return identity.member_id


def menu_of(api, chat_id: int) -> list[str]:
    calls = [
        c
        for c in api.calls
        if c.method == "setMyCommands" and c.params.get("scope", {}).get("chat_id") == chat_id
    ]
    assert calls, f"no command menu was set for {chat_id}"
    return [command["command"] for command in calls[-1].params["commands"]]


# --- units -----------------------------------------------------------------------------------


async def test_rename_and_move_with_cycles_refused(seeded, chat, db):
    admin = chat(ADMIN_ID, "Quản trị")
    replies = await admin.send("/suadonvi")
    assert replies == ["Sửa đơn vị nào? Chọn trong danh sách hoặc gõ một phần tên đơn vị."]
    assert "Đảng bộ Sở Y tế" in admin.buttons()
    await admin.click("Đảng bộ Sở Y tế")
    assert admin.buttons()[:3] == ["✏️ Đổi tên", "↪️ Chuyển sang cấp trên khác", "⏸ Ngừng hoạt động"]
    assert await admin.click("✏️ Đổi tên") == ["Tên mới của đơn vị?"]
    assert (await admin.send("Sở Y tế 🏥"))[0].startswith("⚠️ Vui lòng không dùng biểu tượng")
    assert (await admin.send("x" * 201))[0].startswith("⚠️ Nội dung quá dài: 201 ký tự, tối đa 200")
    assert (await admin.send("Đảng bộ Sở Y tế"))[0].startswith("⚠️ Tên mới trùng với tên hiện tại.")
    summary = (await admin.send("Đảng bộ Sở Y tế tỉnh"))[0]
    assert "• Thao tác: ✏️ Đổi tên\n• Tên mới: Đảng bộ Sở Y tế tỉnh" in summary
    assert await admin.click("✅ Xác nhận") == [
        "Đã đổi tên đơn vị DB-SYT: «Đảng bộ Sở Y tế» thành «Đảng bộ Sở Y tế tỉnh»."
    ]
    assert (await unit(db, "DB-SYT")).name == "Đảng bộ Sở Y tế tỉnh"

    # The top unit under its grandchild, a unit under itself, under its own child: all loops.
    await admin.send("/suadonvi")
    await admin.send("dang uy khoi")  # typed, diacritics left out: the only match is chosen
    await admin.click("↪️ Chuyển sang cấp trên khác")
    assert admin.buttons()[0] == "⬆️ Cấp cao nhất (không có cấp trên)"
    replies = await admin.click("Chi bộ Bệnh viện Đa khoa")
    assert replies[0].startswith(
        "⚠️ Không thể chuyển Đảng ủy Khối cơ quan và doanh nghiệp tỉnh về trực thuộc Chi bộ "
        "Bệnh viện Đa khoa: Chi bộ Bệnh viện Đa khoa là đơn vị cấp dưới của Đảng ủy Khối"
    )
    replies = await admin.click("Đảng ủy Khối cơ quan và doanh nghiệp tỉnh")
    assert replies[0].startswith("⚠️ Không thể chuyển Đảng ủy Khối cơ quan và doanh nghiệp tỉnh")
    assert "trực thuộc chính nó" in replies[0]
    replies = await admin.click("⬆️ Cấp cao nhất (không có cấp trên)")
    assert replies[0].startswith("⚠️ Đảng ủy Khối cơ quan và doanh nghiệp tỉnh đã ở cấp cao nhất.")
    await admin.cancel_form()

    await admin.send("/suadonvi")
    await admin.send("so y te")
    await admin.click("↪️ Chuyển sang cấp trên khác")
    replies = await admin.click("Chi bộ Bệnh viện Đa khoa")
    assert "sẽ thành vòng lặp" in replies[0]
    replies = await admin.click("Đảng ủy Khối cơ quan và doanh nghiệp tỉnh")
    assert replies[0].startswith(
        "⚠️ Đảng bộ Sở Y tế tỉnh đã trực thuộc Đảng ủy Khối cơ quan và doanh nghiệp tỉnh."
    )
    await admin.click("Đảng bộ Sở Giáo dục và Đào tạo")
    assert await admin.click("✅ Xác nhận") == [
        "Đã chuyển Đảng bộ Sở Y tế tỉnh về trực thuộc Đảng bộ Sở Giáo dục và Đào tạo."
    ]
    assert (await unit(db, "DB-SYT")).parent_id == (await unit(db, "DB-SGD")).id
    await admin.send("/suadonvi")
    await admin.send("so y te")
    await admin.click("↪️ Chuyển sang cấp trên khác")
    await admin.click("⬆️ Cấp cao nhất (không có cấp trên)")
    assert await admin.click("✅ Xác nhận") == ["Đã chuyển Đảng bộ Sở Y tế tỉnh lên cấp cao nhất."]
    assert (await unit(db, "DB-SYT")).parent_id is None
    assert (await unit(db, "DUK")).parent_id is None
    assert await actions(db, "unit.") == ["unit.renamed", "unit.moved", "unit.moved"]
    log = (await admin.send("/nhatky unit"))[0]
    assert "Đổi tên đơn vị · đơn vị #" in log
    assert "Chuyển đơn vị sang cấp trên khác · đơn vị #" in log


async def test_deactivated_unit_takes_nothing_new_and_comes_back(seeded, chat, db, clock):
    admin = chat(ADMIN_ID, "Quản trị")
    member = await join(chat)  # Chi bộ Văn phòng, through the invite DEMO-TV
    await register_quickly(member, "Chuyển đổi số trong giảng dạy")
    guest = chat(5150, "Bình")
    await guest.send("/start")
    await guest.send("Trần Thị Bình")
    await guest.click("Viên chức")
    await guest.send("van phong")
    await guest.click("Bỏ qua »")
    await guest.click("✅ Gửi yêu cầu")
    assert "• Đơn vị: 5, trong đó 1 đơn vị có đăng ký" in (await thongke(admin))[0]

    # A unit with an active sub-unit cannot be deactivated before it.
    await admin.send("/suadonvi")
    await admin.send("so y te")
    replies = await admin.click("⏸ Ngừng hoạt động")
    assert replies[0].startswith("⚠️ Đảng bộ Sở Y tế còn 1 đơn vị trực thuộc đang hoạt động.")
    await admin.cancel_form()

    await admin.send("/suadonvi")
    await admin.click("Chi bộ Văn phòng")
    await admin.click("⏸ Ngừng hoạt động")
    replies = await admin.click("✅ Xác nhận")
    assert replies[0].startswith("Đã ngừng hoạt động Chi bộ Văn phòng. Thành viên và dữ liệu")
    assert not (await unit(db, "CB-VP")).active

    assert (
        "• CB-VP — Chi bộ Văn phòng (DUK) (ngừng hoạt động)"
        in (await admin.send("/cacdonvi"))[0].splitlines()
    )
    # Still one of the open campaign's units: it was active during it (issue 15). Its end is
    # recorded, so a campaign that begins after today will not count it.
    stats = (await thongke(admin))[0]
    assert "• Đơn vị: 5, trong đó 1 đơn vị có đăng ký" in stats
    assert "• Đăng ký: 0 tập thể và 1 cá nhân" in stats
    assert (await unit(db, "CB-VP")).active_until == clock().astimezone(VIETNAM).date()
    # Not offered for an invite, nor to someone asking to join.
    await admin.send("/moi")
    assert "Chi bộ Văn phòng" not in admin.buttons()
    assert "Chi bộ Bệnh viện Đa khoa" in admin.buttons()
    await admin.cancel_form()
    other = chat(5151, "Cúc")
    await other.send("/start")
    await other.send("Lê Thị Cúc")
    await other.click("Cán bộ")
    assert "Chi bộ Văn phòng" not in other.buttons()
    assert (await other.send("van phong"))[0].startswith("⚠️ Không tìm thấy mục nào khớp")
    # Its invite links no longer work; its pending join request cannot be accepted.
    newcomer = chat(5152, "Dung")
    assert await newcomer.send("/start DEMO-TV") == [
        "Đơn vị của đường link mời này đã ngừng hoạt động, nên link không còn dùng được. "
        "Hãy liên hệ cán bộ phụ trách."
    ]
    async with db.session() as session:
        asking = await find_identity(session, channel="telegram", external_id="5150")
        request_id = (await pending_join_request(session, member_id=asking.member_id)).id
    assert (await admin.send(f"/chapnhan {request_id}"))[0].startswith(
        "Chi bộ Văn phòng đã ngừng hoạt động nên không nhận thêm thành viên."
    )
    # Its member keeps their model, but registers nothing new there.
    assert (await member.send("/mohinh"))[0].startswith("Mô hình của bạn (1):")
    assert await member.send("/dangky") == [
        "Các đơn vị của bạn đều đã ngừng hoạt động, nên không đăng ký được mô hình mới. "
        "Hãy liên hệ cán bộ phụ trách."
    ]

    await admin.send("/suadonvi")
    await admin.click("Chi bộ Văn phòng (ngừng hoạt động)")
    assert "⏸ Ngừng hoạt động" not in admin.buttons()
    await admin.click("▶️ Cho hoạt động trở lại")
    assert await admin.click("✅ Xác nhận") == ["Chi bộ Văn phòng đã hoạt động trở lại."]
    # Its links were revoked with it, for good: a link handed out before stays closed.
    assert await newcomer.send("/start DEMO-TV") == [
        "Đường link mời này đã bị thu hồi. Hãy xin đường link mới từ cán bộ phụ trách, "
        "hoặc gửi /start để xin tham gia."
    ]
    assert "• Đơn vị: 5," in (await thongke(admin))[0]
    assert (await member.send("/dangky"))[0].startswith("Đăng ký mô hình trong đợt")
    assert await actions(db, "unit.") == ["unit.deactivated", "unit.reactivated"]


# --- coordinators ----------------------------------------------------------------------------


async def test_assign_and_remove_a_coordinator(seeded, chat, db, api, clock, app):
    admin = chat(ADMIN_ID, "Quản trị")
    binh = await add_person(db, clock, 6001, "Trần Văn Bình", "CB-VP")
    await add_person(db, clock, 6002, "Trần Văn Bình", "DB-SGD")  # a namesake elsewhere
    await add_person(db, clock, 6003, "Phạm Thị Hoa", "CB-BV")
    hoa = chat(6003, "Hoa")
    await register_quickly(hoa, "Bệnh viện không khói thuốc")
    person = chat(6001, "Bình")
    assert await person.send("/duyet") == NOT_ALLOWED

    replies = await admin.send("/phutrach")
    assert replies[0] == "Cán bộ phụ trách (1 người):\n• Lê Văn Phụ Trách — Chi bộ Văn phòng"
    await admin.click("➕ Giao phụ trách đơn vị")
    replies = await admin.send("tran van binh")
    assert replies[0].startswith("Kết quả tìm «tran van binh»:")
    assert admin.buttons()[:2] == [
        "Trần Văn Bình — Chi bộ Văn phòng",
        "Trần Văn Bình — Đảng bộ Sở Giáo dục và Đào tạo",
    ]
    replies = await admin.click("Trần Văn Bình — Chi bộ Văn phòng")
    assert replies[0].startswith("Đơn vị 1: Phụ trách đơn vị nào?")
    await admin.click("Chi bộ Bệnh viện Đa khoa")
    await admin.click("➕ Thêm")
    replies = await admin.click("Chi bộ Bệnh viện Đa khoa")
    assert replies[0].startswith("⚠️ Đơn vị này đã được chọn ở trên.")
    await admin.click("Đảng bộ Sở Giáo dục và Đào tạo")
    summary = (await admin.click("Xong"))[0]
    assert "• Đơn vị phụ trách:\n  1. Chi bộ Bệnh viện Đa khoa\n  2. Đảng bộ Sở Giáo dục" in summary
    assert await admin.click("✅ Xác nhận") == [
        "Đã giao Trần Văn Bình phụ trách: Chi bộ Bệnh viện Đa khoa, Đảng bộ Sở Giáo dục và Đào tạo."
    ]
    assert "duyet" in menu_of(api, 6001) and "themdonvi" not in menu_of(api, 6001)
    await flush_outbox(app)
    told = api.sent(6001)[-1].params["text"]
    assert told.startswith(
        "🔔 Bạn được giao làm cán bộ phụ trách: Chi bộ Bệnh viện Đa khoa, "
        "Đảng bộ Sở Giáo dục và Đào tạo.\n\nVới vai trò cán bộ phụ trách:"
    )
    assert (await person.send("/duyet"))[0].startswith(
        "📥 Chờ duyệt: 1 — người đăng ký: Phạm Thị Hoa (Chi bộ Bệnh viện Đa khoa)"
    )

    # Giving the same unit again is refused with the reason.
    await admin.send("/phutrach")
    await admin.click("➕ Giao phụ trách đơn vị")
    await admin.send("Trần Văn Bình — Chi bộ Văn phòng")
    replies = await admin.send("benh vien")
    assert replies[0].startswith("⚠️ Trần Văn Bình đã là cán bộ phụ trách Chi bộ Bệnh viện Đa khoa.")
    await admin.cancel_form()

    # Removing: chosen by typing part of the person's and the unit's names.
    await admin.send("/phutrach")
    await admin.click("➖ Thôi phụ trách đơn vị")
    await admin.send("binh — chi bo benh vien")
    assert await admin.click("✅ Xác nhận") == [
        "Trần Văn Bình đã thôi phụ trách Chi bộ Bệnh viện Đa khoa."
    ]
    assert await person.send("/duyet") == ["Không có đăng ký nào chờ duyệt."]  # DB-SGD still his
    await admin.send("/phutrach")
    await admin.click("➖ Thôi phụ trách đơn vị")
    await admin.send("binh — dang bo so giao duc")
    await admin.click("✅ Xác nhận")
    assert await person.send("/duyet") == NOT_ALLOWED
    assert "duyet" not in menu_of(api, 6001)
    await flush_outbox(app)
    texts = [c.params["text"] for c in api.sent(6001)]
    assert "🔔 Bạn không còn là cán bộ phụ trách Chi bộ Bệnh viện Đa khoa." in texts
    async with db.session() as session:
        roles = (
            await session.scalars(select(Membership.role).where(Membership.member_id == binh))
        ).all()
    assert roles == ["member"]
    assert await actions(db, "coordinator.") == [
        "coordinator.assigned",
        "coordinator.assigned",
        "coordinator.removed",
        "coordinator.removed",
    ]


async def test_a_person_is_found_among_seven_thousand(seeded, chat, db, clock):
    async with db.session() as session:
        units = (await session.scalars(select(Unit.id).order_by(Unit.id))).all()
        names = [f"{('Nguyễn', 'Trần', 'Lê', 'Phạm')[i % 4]} Văn Người {i}" for i in range(7001)]
        # Written in bulk, past the ORM: the folded name goes with the name (storage/names.py).
        rows = [
            {
                "full_name": names[i],
                "name_folded": folded_name(names[i]),
                "is_admin": False,
                "digest_mode": "weekly",
                "digest_hour": 8,
                "digest_weekday": 0,
                "created_at": clock(),
            }
            for i in range(1, 7001)
        ]
        ids = await session.scalars(
            insert(Member).returning(Member.id, sort_by_parameter_order=True), rows
        )
        await session.execute(
            insert(Membership),
            [
                {
                    "member_id": member_id,
                    "unit_id": units[i % len(units)],
                    "role": "member",
                    "created_at": clock(),
                }
                for i, member_id in enumerate(ids.all())
            ],
        )
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/phutrach")
    replies = await admin.click("➕ Giao phụ trách đơn vị")
    assert re.search(r"Trang 1/8\d\d\.", replies[0])
    people = [b for b in admin.buttons() if " — " in b]
    assert len(people) == 8 and "Trang sau ›" in admin.buttons()
    await admin.click("Trang sau ›")
    assert "Trang 2/" in admin.replies()[0]
    replies = await admin.send("le van nguoi 6998")
    assert replies[0].startswith("Đơn vị 1:")  # the only match is taken
    await admin.click("Chi bộ Bệnh viện Đa khoa")
    summary = (await admin.click("Xong"))[0]
    assert "• Người: Lê Văn Người 6998 — " in summary
    await admin.click("✅ Xác nhận")
    async with db.session() as session:
        coordinators = await management_names(session)
    assert "Lê Văn Người 6998" in coordinators


async def management_names(session) -> list[str]:
    result = await session.scalars(
        select(Member.full_name)
        .join(Membership, Membership.member_id == Member.id)
        .where(Membership.role == "coordinator")
    )
    return list(result.all())


# --- admins ----------------------------------------------------------------------------------


async def test_grant_and_revoke_admin_rights(seeded, chat, db, api, clock, app):
    admin = chat(ADMIN_ID, "Quản trị")
    await add_person(db, clock, 6101, "Đỗ Minh Châu", "CB-BV")
    chau = chat(6101, "Châu")
    assert await chau.send("/cacdonvi") == NOT_ALLOWED
    replies = await admin.send("/quantri")
    assert replies[0].startswith("Quản trị viên (2):")
    assert "• Trần Thị Quản Trị" in replies[0] and "(bạn)" in replies[0]
    await admin.click("➕ Cấp quyền quản trị")
    await admin.send("do minh chau")
    assert "• Người: Đỗ Minh Châu — Chi bộ Bệnh viện Đa khoa" in admin.replies()[0]
    assert await admin.click("✅ Xác nhận") == ["Đã cấp quyền quản trị cho Đỗ Minh Châu."]
    assert "themdonvi" in menu_of(api, 6101) and "quantri" in menu_of(api, 6101)
    await flush_outbox(app)
    assert (
        api.sent(6101)[-1]
        .params["text"]
        .startswith("🔔 Bạn được cấp quyền quản trị.\n\nVới vai trò quản trị:")
    )
    assert (await chau.send("/cacdonvi"))[0].startswith("Các đơn vị (5):")

    # The new admin takes the rights of the two others; the bootstrap admin is warned about.
    for name in ("Trần Thị Quản Trị", None):
        await chau.send("/quantri")
        await chau.click("➖ Bỏ quyền quản trị")
        label = name or next(b for b in chau.buttons() if b.startswith("(chưa có tên"))
        await chau.click(label)
        replies = await chau.click("✅ Xác nhận")
    assert replies[0].startswith("Đã bỏ quyền quản trị của (chưa có tên, số ")
    assert "có trong DVK_ADMIN_IDS nên sẽ được cấp lại quyền quản trị" in replies[1]
    assert "themdonvi" not in menu_of(api, ADMIN_ID)
    # The last admin cannot be removed, not even by themselves.
    await chau.send("/quantri")
    replies = await chau.click("➖ Bỏ quyền quản trị")
    assert replies[0].startswith("⚠️ Chỉ còn một quản trị viên, nên không thể bỏ quyền quản trị.")
    await chau.cancel_form()
    async with db.session() as session:
        assert (await session.scalars(select(Member.full_name).where(Member.is_admin))).all() == [
            "Đỗ Minh Châu"
        ]
    # DVK_ADMIN_IDS makes the bootstrap admin an admin again at their next message.
    assert (await admin.send("/cacdonvi"))[0].startswith("Các đơn vị (5):")
    # Now two admins: one may give up their own rights.
    await chau.send("/quantri")
    await chau.click("➖ Bỏ quyền quản trị")
    await chau.click("Đỗ Minh Châu (bạn)")
    assert await chau.click("✅ Xác nhận") == [
        "Bạn đã tự bỏ quyền quản trị của mình; các lệnh quản trị không còn dùng được với bạn."
    ]
    assert await chau.send("/cacdonvi") == NOT_ALLOWED
    assert await actions(db, "admin.") == [
        "admin.bootstrap",
        "admin.granted",
        "admin.revoked",
        "admin.revoked",
        "admin.bootstrap",
        "admin.revoked",
    ]


async def test_two_admins_giving_up_their_rights_at_once_leave_one(seeded, chat, db, clock):
    async with db.session() as session:
        terminal = await find_identity(session, channel="terminal", external_id="admin")
        terminal.member.is_admin = False
    first = chat(ADMIN_ID, "Một")
    await first.send("/start")  # bootstrap admin
    await add_person(db, clock, 6201, "Vũ Văn Hai", "CB-VP")
    async with db.session() as session:
        hai = await find_identity(session, channel="telegram", external_id="6201")
        hai.member.is_admin = True
    second = chat(6201, "Hai")
    for person, label in ((first, None), (second, "Vũ Văn Hai (bạn)")):
        await person.send("/quantri")
        await person.click("➖ Bỏ quyền quản trị")
        label = label or next(b for b in person.buttons() if b.endswith("(bạn)"))
        await person.click(label)
    replies = await first.click("✅ Xác nhận")
    assert replies[0].startswith("Bạn đã tự bỏ quyền quản trị")
    replies = await second.click("✅ Xác nhận")
    assert replies[0].startswith("⚠️ Chỉ còn một quản trị viên")
    async with db.session() as session:
        assert (await session.scalars(select(Member.full_name).where(Member.is_admin))).all() == [
            "Vũ Văn Hai"
        ]


# --- fields ----------------------------------------------------------------------------------


async def test_fields_added_renamed_hidden_and_shown(seeded, chat, db):
    admin = chat(ADMIN_ID, "Quản trị")
    member = await join(chat)
    await register_quickly(member, "Chuyển đổi số trong giảng dạy")
    replies = await admin.send("/linhvuc")
    assert replies[0].splitlines()[0] == "Các lĩnh vực (11):"
    assert "9. Chuyển đổi số — 1 mô hình" in replies[0].splitlines()
    assert replies[1] == "Bạn muốn làm gì?"
    await admin.click("➕ Thêm lĩnh vực")
    replies = await admin.send("chuyen doi SO")
    assert replies[0].startswith("⚠️ Đã có lĩnh vực «Chuyển đổi số» (không phân biệt")
    assert (await admin.send("x" * 121))[0].startswith("⚠️ Nội dung quá dài: 121 ký tự, tối đa 120")
    await admin.send("Bảo vệ môi trường")
    assert await admin.click("✅ Xác nhận") == ["Đã thêm lĩnh vực «Bảo vệ môi trường»."]

    await admin.send("/linhvuc")
    await admin.click("✏️ Đổi tên lĩnh vực")
    await admin.send("moi truong")
    assert (await admin.send("AN SINH XA HOI"))[0].startswith("⚠️ Đã có lĩnh vực «An sinh xã hội»")
    await admin.send("Bảo vệ môi trường, ứng phó biến đổi khí hậu")
    assert await admin.click("✅ Xác nhận") == [
        "Đã đổi tên lĩnh vực «Bảo vệ môi trường» thành "
        "«Bảo vệ môi trường, ứng phó biến đổi khí hậu»."
    ]
    # Correcting a name's own diacritics is not a clash with itself.
    await admin.send("/linhvuc")
    await admin.click("✏️ Đổi tên lĩnh vực")
    await admin.send("khi hau")
    await admin.send("Bảo vệ Môi trường, ứng phó biến đổi khí hậu")
    assert (await admin.click("✅ Xác nhận"))[0].endswith(
        "thành «Bảo vệ Môi trường, ứng phó biến đổi khí hậu»."
    )

    await admin.send("/linhvuc")
    replies = await admin.click("👁 Hiện lại lĩnh vực đã ẩn")
    assert replies[0].startswith("⚠️ Không có lĩnh vực nào đang ẩn.")
    await admin.click("🙈 Ẩn lĩnh vực")
    await admin.click("Chuyển đổi số")
    replies = await admin.click("✅ Xác nhận")
    assert replies[0].startswith("Đã ẩn lĩnh vực «Chuyển đổi số»")
    listing = (await admin.send("/linhvuc"))[0].splitlines()
    assert "9. Chuyển đổi số — 1 mô hình (ẩn)" in listing
    assert listing[-1] == "12. Bảo vệ Môi trường, ứng phó biến đổi khí hậu — 0 mô hình"
    await admin.cancel_form()
    # Not offered when registering; the model that has it keeps it; statistics count it.
    await member.send("/dangky")
    await member.click("Cá nhân")
    await member.send("Một mô hình khác")
    assert "Chuyển đổi số" not in member.buttons()
    assert "Bảo vệ Môi trường, ứng phó biến đổi khí hậu" in member.buttons()
    await member.cancel_form()
    async with db.session() as session:
        model_id = await session.scalar(select(Model.id))
    details = await member.press(f"m:{model_id}")
    assert "• Lĩnh vực: Chuyển đổi số" in details[0]
    assert "Chuyển đổi số: 1 (" in (await thongke(admin))[0]

    await admin.send("/linhvuc")
    await admin.click("👁 Hiện lại lĩnh vực đã ẩn")
    await admin.click("Chuyển đổi số")
    assert await admin.click("✅ Xác nhận") == [
        "Lĩnh vực «Chuyển đổi số» lại được chọn khi đăng ký."
    ]
    async with db.session() as session:
        assert not (await session.scalar(select(Field).where(Field.name == "Chuyển đổi số"))).hidden
    assert await actions(db, "field.") == [
        "field.added",
        "field.renamed",
        "field.renamed",
        "field.hidden",
        "field.shown",
    ]


async def test_a_returned_model_keeps_its_hidden_field_and_deactivated_unit(seeded, chat, db):
    admin = chat(ADMIN_ID, "Quản trị")
    coordinator = await join(chat, 6400, "Lê Văn Phụ Trách", code="DEMO-PT", category="Cán bộ")
    member = await join(chat)
    await register_quickly(member, "Chuyển đổi số trong giảng dạy")
    await coordinator.send("/duyet")
    await coordinator.click("↩️ Trả lại để sửa")
    await coordinator.send("Cần ghi rõ số bài giảng mỗi học kỳ")
    await admin.send("/linhvuc")
    await admin.click("🙈 Ẩn lĩnh vực")
    await admin.click("Chuyển đổi số")
    await admin.click("✅ Xác nhận")
    await admin.send("/suadonvi")
    await admin.click("Chi bộ Văn phòng")
    await admin.click("⏸ Ngừng hoạt động")
    await admin.click("✅ Xác nhận")

    async with db.session() as session:
        model_id = await session.scalar(select(Model.id))
    replies = await member.send(f"/suadangky {model_id}")
    assert "• Lĩnh vực: Chuyển đổi số\n" in replies[1]
    await member.click("✏️ Tên mô hình")
    await member.send("Chuyển đổi số trong giảng dạy các môn")
    assert (await member.click("✅ Gửi đăng ký"))[0].startswith("✅ Đã gửi lại đăng ký")
    async with db.session() as session:
        model = await session.scalar(select(Model))
        field = await session.get(Field, model.field_id)
    assert (model.status, model.unit_id, field.name) == (
        "submitted",
        (await unit(db, "CB-VP")).id,
        "Chuyển đổi số",
    )


# --- role checks -----------------------------------------------------------------------------


async def test_every_management_command_and_button_is_refused_to_others(seeded, chat, db, clock):
    await make_coordinator(db, unit_id=(await unit(db, "CB-VP")).id, telegram_id=9001, now=clock())
    coordinator = chat(9001, "Phụ trách")
    member = await join(chat)
    for person in (coordinator, member):
        for command in COMMANDS:
            assert await person.send(command) == NOT_ALLOWED, command

    # An admin's open form: its buttons pressed by others change nothing.
    admin = chat(ADMIN_ID, "Quản trị")
    await admin.send("/quantri")
    await admin.click("➕ Cấp quyền quản trị")
    await admin.send("nguyen van an")
    assert (
        len([b for b in admin.buttons() if b.startswith("Nguyễn Văn An — Chi bộ Văn phòng (#")])
        == 2
    )
    async with db.session() as session:
        conv = await session.get(Conversation, (await admin_member(session)).id)
        version = conv.version
    forged = [f"f:{version}:ok", f"f:{version}:o:grant", "f:1:ok", f"d:{version}:c"]
    for person in (coordinator, member):
        for data in forged:
            assert await person.press(data) == []
            assert person.last_notice() == STALE
    async with db.session() as session:
        # The terminal admin and the bootstrap admin, nobody else.
        assert await session.scalar(select(func.count()).where(Member.is_admin)) == 2
        assert await session.scalar(select(func.count()).select_from(Conversation)) == 1

    # A member with a form of their own open: forged data finds no management step there.
    await member.send("/dangky")
    async with db.session() as session:
        mine = await session.get(Conversation, await member_id(session, "4242"))
    for data in (f"f:{mine.version}:o:grant", f"f:{mine.version}:o:rename", f"f:{mine.version}:ok"):
        await member.press(data)
    async with db.session() as session:
        assert (await session.get(Conversation, mine.member_id)).form == "register"
        assert await session.scalar(select(func.count()).select_from(Field)) == 11


async def test_admin_rights_taken_away_in_the_middle_of_a_form(seeded, chat, db, clock):
    await add_person(db, clock, 6301, "Hồ Văn Nam", "CB-VP")
    async with db.session() as session:
        nam = await find_identity(session, channel="telegram", external_id="6301")
        nam.member.is_admin = True
    person = chat(6301, "Nam")
    await person.send("/linhvuc")
    await person.click("➕ Thêm lĩnh vực")
    await person.send("Bảo vệ môi trường")
    async with db.session() as session:
        nam = await find_identity(session, channel="telegram", external_id="6301")
        nam.member.is_admin = False
    assert await person.click("✅ Xác nhận") == [
        "Bạn không còn quyền thực hiện «Lĩnh vực», nên phiên nhập đã được hủy."
    ]
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Field)) == 11


async def admin_member(session) -> Member:
    identity = await find_identity(session, channel="telegram", external_id=str(ADMIN_ID))
    return identity.member


async def member_id(session, external_id: str) -> int:
    identity = await find_identity(session, channel="telegram", external_id=external_id)
    return identity.member_id
