"""The same scenarios on Telegram and on Zalo, from one definition (tests/channel_drivers.py):
join with a code, register a model with targets, report with a photo, review with a return and a
resubmission, the digest with its chart, a broadcast to 1,000 people, the export's file. Each
asserts on what was sent and on what was stored."""

from __future__ import annotations

import zipfile
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from io import BytesIO
from zoneinfo import ZoneInfo

import httpx
import pytest
from openpyxl import load_workbook
from pydantic import SecretStr
from sqlalchemy import func, insert, select, update

from bot import schedules
from bot.channels import channels_of
from bot.demo import seed
from bot.runtime import build_core
from bot.zalo.api import ZaloApi
from bot.zalo.runner import ZaloRunner, outbox_sender
from storage import rules
from storage.models import (
    Identity,
    Invite,
    Member,
    Membership,
    Model,
    OutboxMessage,
    Report,
    ReportPhoto,
    Target,
)
from storage.records.invites import create_invite
from storage.records.units import add_unit, unit_by_code
from tests.botapi import JPEG, RecordingRequest
from tests.channel_drivers import PUBLIC_URL, TelegramWorld, ZaloWorld, zalo_fetch
from tests.conftest import ADMIN_ID
from tests.fakezalo import TOKEN as ZALO_TOKEN
from tests.fakezalo import FakeZalo

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
MEMBER, COORDINATOR = 4242, 6100
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(params=["telegram", "zalo"])
async def world(request, settings, db, clock, monkeypatch):
    async def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)

    if request.param == "telegram":
        from bot.telegram.app import build_application, post_init

        core = build_core(settings, db, clock)
        api = RecordingRequest()
        application = build_application(settings, core, request=api)
        application.bot_data["sleep"] = sleep
        await application.initialize()
        await post_init(application)
        yield TelegramWorld(core, application, api)
        await application.shutdown()
        return

    zalo_settings = settings.model_copy(
        update={
            "admin_ids": [f"zalo:{ADMIN_ID}"],
            "zalo_token": SecretStr(ZALO_TOKEN),
            "public_url": PUBLIC_URL,
            "link_secret": SecretStr("a-link-secret-for-the-tests"),
        }
    )
    core = build_core(zalo_settings, db, clock)
    zalo = FakeZalo()
    client = httpx.AsyncClient(transport=zalo.transport())
    api = ZaloApi(ZALO_TOKEN, api_url="https://zalo.test", client=client)
    built = ZaloWorld(core, ZaloRunner(core, api), zalo, outbox_sender(core, api, sleep=sleep))
    zalo.fetch = zalo_fetch(lambda: built)

    # Zalo's CDN, where the runner downloads a picture a person sent.
    import bot.zalo.runner as zalo_runner
    from bot.media_links import store_photo_from_url

    def cdn(request: httpx.Request) -> httpx.Response:
        content = built.cdn.get(str(request.url))
        return httpx.Response(200, content=content) if content else httpx.Response(404)

    async def download(media, url):  # type: ignore[no-untyped-def]
        async with httpx.AsyncClient(transport=httpx.MockTransport(cdn)) as downloads:
            return await store_photo_from_url(media, url, client=downloads)

    monkeypatch.setattr(zalo_runner, "store_photo_from_url", download)
    yield built
    await client.aclose()


@pytest.fixture
async def demo(db, clock):
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().date())


async def join(world, user_id: int = MEMBER, name: str = "Nguyễn Văn An", *, code="DEMO-TV"):
    person = world.person(user_id, name.split()[-1])
    await person.send(f"/start {code}")
    await person.send(name)
    await person.choose("Cán bộ" if code == "DEMO-PT" else "Công chức")
    replies = await person.choose("Bỏ qua »")
    assert replies[0].startswith(f"Chào mừng {name} đã tham gia")
    return person


async def register(person, title: str = "Chuyển đổi số trong giảng dạy") -> list[str]:
    await person.send("/dangky")
    await person.choose("Cá nhân")
    await person.send(title)
    await person.choose("Chuyển đổi số")
    await person.send("Soạn bài giảng điện tử cho mọi môn học")
    await person.send("Mọi lớp học có bài giảng điện tử")
    await person.send("bài giảng điện tử")
    await person.send("bài")
    await person.send("1.061")
    await person.choose("➕ Thêm")
    await person.send("giáo viên được tập huấn")
    await person.send("người")
    await person.send("40")
    await person.choose("Xong")
    await person.send("01/12/2026")
    replies = await person.send("30/06/2027")
    assert replies[0].startswith("📋 Đăng ký mô hình — kiểm tra lại thông tin:")
    return await person.choose("✅ Gửi đăng ký")


async def identity_of(db, world, user_id: int) -> Identity:
    async with db.session() as session:
        return await session.scalar(
            select(Identity).where(
                Identity.channel == world.channel, Identity.external_id == str(user_id)
            )
        )


async def test_join_with_a_code(world, demo, db, clock):
    async with db.session() as session:
        unit = await unit_by_code(session, code="CB-VP")
        invite = await create_invite(
            session,
            unit_id=unit.id,
            role=rules.ROLE_MEMBER,
            expires_at=clock() + timedelta(days=7),
            max_uses=10,
            created_by=None,
            now=clock(),
        )
        code = invite.code
    person = world.person(MEMBER, "An")
    replies = await person.open_invite(code)
    assert "Bạn được mời tham gia Chi bộ Văn phòng với vai trò thành viên" in replies[0]
    assert replies[-1].startswith("Họ và tên của bạn?")
    assert (await person.send("Nguyễn Văn An"))[0].startswith("Bạn là:")
    assert (await person.choose("Công chức"))[0].startswith("Số điện thoại")
    replies = await person.send("0912 345 678")
    assert replies[0] == (
        "Chào mừng Nguyễn Văn An đã tham gia Chi bộ Văn phòng với vai trò thành viên!"
    )

    identity = await identity_of(db, world, MEMBER)
    async with db.session() as session:
        member = await session.get(Member, identity.member_id)
        membership = await session.scalar(
            select(Membership).where(Membership.member_id == member.id)
        )
        uses = await session.scalar(select(Invite.uses).where(Invite.code == code))
    assert (member.full_name, member.category) == ("Nguyễn Văn An", "cong_chuc")
    assert (membership.unit_id, membership.role, uses) == (unit.id, "member", 1)


async def test_register_a_model_with_targets(world, demo, db):
    person = await join(world)
    replies = await register(person)
    assert replies[0].startswith("✅ Đã gửi đăng ký mô hình «Chuyển đổi số trong giảng dạy»")
    identity = await identity_of(db, world, MEMBER)
    async with db.session() as session:
        model = await session.scalar(select(Model))
        targets = (await session.scalars(select(Target).order_by(Target.position))).all()
    assert (model.status, model.kind, model.owner_id) == (
        "submitted",
        "individual",
        identity.member_id,
    )
    assert [(t.indicator, t.unit_of_measure, t.target_value) for t in targets] == [
        ("bài giảng điện tử", "bài", Decimal(1061)),
        ("giáo viên được tập huấn", "người", Decimal(40)),
    ]


async def test_report_with_a_photo(world, demo, db, clock):
    clock.now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    person = await join(world)
    await register(person)
    async with db.session() as session:
        await session.execute(update(Model).values(status="approved", starts_on=date(2026, 11, 1)))
    replies = await person.send("/baocao")
    assert replies[0].startswith("Báo cáo tiến độ mô hình «Chuyển đổi số trong giảng dạy»")
    await person.send("Hoàn thành bài giảng điện tử cho khối 10")
    await person.send("500")
    replies = await person.send("12")
    assert replies[0].startswith("Gửi ảnh minh chứng")
    assert (await person.send_photo())[0].startswith("Đã nhận 1 ảnh.")
    await person.choose("✅ Xong")
    await person.choose("Bỏ qua »")
    await person.send("Đề nghị hỗ trợ máy chiếu")
    summary = (await person.choose("Chưa"))[0]
    assert "• Ảnh minh chứng: 1 ảnh" in summary
    replies = await person.choose("✅ Gửi báo cáo")
    assert replies[0].splitlines()[2:] == [
        "• bài giảng điện tử: 500/1.061 bài (47%)",
        "• giáo viên được tập huấn: 12/40 người (30%)",
    ]
    async with db.session() as session:
        report = await session.scalar(select(Report))
        photo = await session.scalar(select(ReportPhoto))
        model = await session.scalar(select(Model))
    assert (report.late, report.proposals, model.status) == (
        False,
        "Đề nghị hỗ trợ máy chiếu",
        "in_progress",
    )
    # The picture is in the media store on both channels, whatever the channel calls it.
    assert photo.media_key is not None
    assert await channels_of(world.core).media.store.get(photo.media_key) == JPEG


async def test_review_with_a_return_and_a_resubmission(world, demo, db):
    coordinator = await join(world, COORDINATOR, "Lê Văn Phụ Trách", code="DEMO-PT")
    member = await join(world)
    await register(member)
    replies = await coordinator.send("/duyet")
    assert replies[0].startswith("📥 Chờ duyệt: 1 — người đăng ký: Nguyễn Văn An")
    replies = await coordinator.choose("↩️ Trả lại để sửa")
    assert replies[0].startswith("Lý do (người đăng ký sẽ nhận được):")
    replies = await coordinator.send("Chỉ tiêu chưa rõ, cần ghi số bài giảng mỗi học kỳ")
    assert replies[0] == "Đã trả lại «Chuyển đổi số trong giảng dạy» để người đăng ký sửa."
    assert await world.flush() == 1
    told = world.outbox_texts(MEMBER)[-1]
    assert told.startswith(
        "↩️ Mô hình «Chuyển đổi số trong giảng dạy» được trả lại để sửa. "
        "Lý do: Chỉ tiêu chưa rõ, cần ghi số bài giảng mỗi học kỳ"
    )
    replies = await member.choose("✏️ Sửa và gửi lại")
    assert replies[0].startswith("Sửa đăng ký «Chuyển đổi số trong giảng dạy». Lý do trả lại:")
    await member.choose("✏️ Chỉ tiêu")
    await member.choose("1. bài giảng điện tử: 1.061 bài")
    await member.send("bài giảng điện tử mỗi học kỳ")
    await member.choose("↩ Giữ nguyên")
    await member.send("500")
    replies = await member.choose("✅ Xong")
    assert "  1. bài giảng điện tử mỗi học kỳ: 500 bài" in replies[0]
    replies = await member.choose("✅ Gửi đăng ký")
    assert replies[0].startswith(
        "✅ Đã gửi lại đăng ký «Chuyển đổi số trong giảng dạy». Cán bộ phụ trách sẽ xem xét lại."
    )
    async with db.session() as session:
        models = (await session.scalars(select(Model))).all()
        first = await session.scalar(select(Target).order_by(Target.position))
    assert [m.status for m in models] == ["submitted"]
    assert (first.indicator, first.target_value) == ("bài giảng điện tử mỗi học kỳ", Decimal(500))
    assert "  1. bài giảng điện tử mỗi học kỳ: 500 bài" in (await coordinator.send("/duyet"))[0]


async def test_the_digest_with_its_chart(world, demo, db, clock):
    clock.now = datetime(2026, 11, 26, 9, 0, tzinfo=HANOI).astimezone(UTC)
    admin = world.person(ADMIN_ID, "Quản trị")
    await admin.send("/start")
    await register(await join(world))
    while clock.now < datetime(2026, 11, 30, 9, tzinfo=HANOI):
        clock.advance(hours=1)
        await schedules.sweep_digests(world.core)
        await world.flush()
    [chart] = await world.photos(ADMIN_ID)
    assert chart[:8] == PNG_MAGIC and 5_000 < len(chart) < 300_000
    [digest] = [t for t in world.outbox_texts(ADMIN_ID) if t.startswith("📊")]
    assert "• Đăng ký mới chờ duyệt: 1 (tổng số đang chờ: 1)" in digest
    assert (await admin.choose("📥 Mở hàng chờ duyệt"))[0].startswith("📥 Chờ duyệt: 1")
    admin_id = (await identity_of(db, world, ADMIN_ID)).member_id
    async with db.session() as session:
        statuses = (
            await session.scalars(
                select(OutboxMessage.status).where(
                    OutboxMessage.key.startswith("digest:"), OutboxMessage.member_id == admin_id
                )
            )
        ).all()
    assert statuses == ["sent"]


async def people_in_a_unit(db, clock, world, people: list[int]) -> None:
    """Members of a new unit «Chi bộ Xã An» on the world's channel, inserted in bulk."""
    async with db.session() as session:
        unit = await add_unit(
            session, code="CB-XA", name="Chi bộ Xã An", parent_id=None, now=clock()
        )
        ids = (
            await session.scalars(
                insert(Member).returning(Member.id, sort_by_parameter_order=True),
                [{"full_name": f"Người {i}", "created_at": clock()} for i in people],
            )
        ).all()
        await session.execute(
            insert(Identity),
            [
                {
                    "member_id": member_id,
                    "channel": world.channel,
                    "external_id": str(i),
                    "chat_id": str(i),
                    "created_at": clock(),
                }
                for member_id, i in zip(ids, people, strict=True)
            ],
        )
        await session.execute(
            insert(Membership),
            [
                {"member_id": m, "unit_id": unit.id, "role": "member", "created_at": clock()}
                for m in ids
            ],
        )


async def broadcast_to_the_unit(world, text: str) -> list[str]:
    admin = world.person(ADMIN_ID, "Quản trị")
    await admin.send("/thongbao")
    await admin.choose("Chọn đơn vị")
    await admin.choose("Chi bộ Xã An")
    await admin.choose("Xong")
    preview = await admin.send(text)
    return preview + await admin.choose("✅ Gửi")


async def test_a_broadcast_to_1000_people(world, demo, db, clock):
    people = [200_000 + i for i in range(1000)]
    await people_in_a_unit(db, clock, world, people)
    text = "Đề nghị các đơn vị gửi báo cáo quý IV trước ngày 15/12/2026."
    replies = await broadcast_to_the_unit(world, text)
    assert "Sẽ gửi tới 1.000 người." in replies[1]
    assert replies[-1].startswith("📣 Đang gửi thông báo: đã gửi 0/1.000")
    await world.flush()
    # The admin is told it has gone out (on Telegram the progress message is edited).
    assert await world.broadcast_progress(ADMIN_ID) == [
        "✅ Đã gửi xong thông báo: 1.000 đã nhận, 0 không liên lạc được, 0 lỗi"
    ]
    assert await world.broadcast_progress(ADMIN_ID) == []
    sent = Counter(world.sent_to())
    assert {p: sent[p] for p in people} == dict.fromkeys(people, 1)
    assert set(world.outbox_texts(people[0])) == {f"📣 Thông báo từ Ban chỉ đạo:\n\n{text}"}
    async with db.session() as session:
        rows = await session.execute(
            select(OutboxMessage.status, func.count())
            .where(OutboxMessage.key.startswith("bc:"))
            .group_by(OutboxMessage.status)
        )
    assert dict(rows.all()) == {"sent": 1000}


async def test_the_export_s_file(world, demo, db):
    await register(await join(world))
    admin = world.person(ADMIN_ID, "Quản trị")
    await admin.send("/xuatexcel")
    await world.settle_jobs()
    assert "⏳ Đang tạo tệp Excel…" in admin.all_texts()
    [(name, content)] = await world.files(ADMIN_ID)
    assert name == "dan-van-kheo-2026-11-26.xlsx"
    book = load_workbook(BytesIO(content))
    titles = [row[5] for row in book["Đăng ký"].iter_rows(min_row=2, values_only=True)]
    assert "Chuyển đổi số trong giảng dạy" in titles
    assert world.outbox_texts(ADMIN_ID)[-1] == "✅ Xong: 1 mô hình, 0 báo cáo."


async def test_the_evidence_photos_zip(world, demo, db, clock):
    """A photo a member sent with a report reaches the admin inside /xuatanh's zip: a file on
    Telegram, a signed link on Zalo that downloads it from the bot's HTTP server."""
    clock.now = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)
    person = await join(world)
    await register(person)
    async with db.session() as session:
        await session.execute(update(Model).values(status="approved", starts_on=date(2026, 11, 1)))
        code = (await session.scalar(select(Model))).code
    await person.send("/baocao")
    await person.send("Hoàn thành bài giảng điện tử cho khối 10")
    await person.send("500")
    await person.send("12")
    await person.send_photo()
    await person.choose("✅ Xong")
    await person.choose("Bỏ qua »")
    await person.choose("Bỏ qua »")
    await person.choose("Chưa")
    await person.choose("✅ Gửi báo cáo")

    admin = world.person(ADMIN_ID, "Quản trị")
    await admin.send("/xuatanh")
    await world.settle_jobs()
    assert "⏳ Đang gom ảnh minh chứng…" in admin.all_texts()
    [(name, content)] = await world.files(ADMIN_ID)
    assert name == "anh-minh-chung-2026-11-20.zip"
    archive = zipfile.ZipFile(BytesIO(content))
    assert archive.namelist() == [f"{code}/{code}_2026-11-20_1.jpg"]
    assert archive.read(archive.namelist()[0]) == JPEG
    assert world.outbox_texts(ADMIN_ID)[-1].startswith(
        "✅ Xong: 1 ảnh của 1 mô hình, mỗi mô hình một thư mục."
    )


@pytest.mark.parametrize("world", ["zalo"], indirect=True)
async def test_a_broadcast_s_final_count_waits_out_a_429_on_zalo(world, demo, db, clock):
    await people_in_a_unit(db, clock, world, [300_001, 300_002])
    await broadcast_to_the_unit(world, "Họp chi bộ lúc 14:00 thứ Sáu.")
    assert await world.flush() == 2
    world.zalo.refuse.add("sendMessage")  # the quota is used up as the count is sent
    await world.runner.broadcast_progress()
    assert await world.sender.run_once() == 0
    async with db.session() as session:
        done = await session.scalar(
            select(OutboxMessage).where(OutboxMessage.key.startswith("bc-done:"))
        )
    assert done.status == "pending"
    world.zalo.refuse.clear()
    await world.runner.broadcast_progress()  # again: nothing more is queued
    assert await world.flush() == 1
    final = "✅ Đã gửi xong thông báo: 2 đã nhận, 0 không liên lạc được, 0 lỗi"
    assert world.outbox_texts(ADMIN_ID).count(final) == 1


# --- importing a workbook: a file in the chat on Telegram, the upload page on Zalo ---------------


async def test_import_a_workbook(world, db):
    from tests.test_workbook_import import CLEAN, DONE, stored, workbook

    received = "⏳ Đã nhận «du-lieu.xlsx», đang nhập… Trong lúc chờ bạn vẫn dùng bot bình thường."

    admin = world.person(ADMIN_ID, "Quản trị")
    [prompt] = await admin.send("/nhapexcel")
    if world.name == "zalo":  # the question is the page's link, good once, for 15 minutes
        assert "/upload/" in prompt and "15 phút" in prompt
    else:
        assert prompt.startswith("📥 Gửi tệp Excel (.xlsx)")
    # Imported by a background job; its outcome comes through the outbox.
    await admin.upload("du-lieu.xlsx", workbook(CLEAN))
    await world.settle_jobs()
    await world.flush()
    assert admin.all_texts()[-2:] == [received, DONE]
    imported = await stored(db)
    assert [unit[0] for unit in imported["units"]] == ["CB-VP", "CB-YT", "DUK"]
    assert len(imported["models"]) == 2
