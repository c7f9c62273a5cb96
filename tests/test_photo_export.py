"""The evidence photos: /xuatanh in the chat (a zip, a folder per model code, each photo named by
model code and report date), `dvk export --photos DIR`, the photos the media store does not hold
listed by model, and who may export what."""

from __future__ import annotations

import asyncio
import zipfile
from datetime import UTC, date, datetime
from io import BytesIO
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from bot.channels import channels_of
from bot.cli import main
from handlers.coordinator.photos import zip_name
from storage.media import key_for
from storage.models import AuditEntry, Model, Report, ReportPhoto
from storage.records.photos import EvidencePhoto, evidence_layout, is_telegram_file_id
from storage.records.units import unit_by_code
from tests.botapi import JPEG
from tests.conftest import ADMIN_ID, make_coordinator
from tests.test_export import build_data, finish_jobs

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")
PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)
NOT_ALLOWED = "Bạn không có quyền thực hiện việc này."
# Distinct pictures, each a JPEG by its first bytes.
OCT_1, OCT_2, NOV_1, SEP_1 = (JPEG + bytes([n]) for n in range(4))


async def add_photos(db, store, model_code: str, sent_on: date, photos) -> None:  # type: ignore[no-untyped-def]
    """Photos on the report of that model sent that day: (content, extension) kept in the store,
    or a Telegram file id alone (from before the store)."""
    async with db.session() as session:
        model = await session.scalar(select(Model).where(Model.code == model_code))
        reports = await session.scalars(select(Report).where(Report.model_id == model.id))
        report = next(r for r in reports if r.submitted_at.date() == sent_on)
        for position, photo in enumerate(photos, 1):
            if isinstance(photo, str):
                file_id, key = photo, None
            else:
                content, extension = photo
                key = key_for(content, extension)
                await store.put(key, content)
                file_id = f"AgAD{position}{model_code}"
            session.add(
                ReportPhoto(report_id=report.id, position=position, file_id=file_id, media_key=key)
            )


@pytest.fixture
async def data(db, clock, core):  # type: ignore[no-untyped-def]
    """The export's records (tests/test_export.py) with photos: MH1 (Chi bộ Văn phòng) two in
    October and one in November, beside one kept only by Telegram's file id; MH2 (Chi bộ Tổ
    chức) one, its report sent at 01:00 on 11/09 in Hà Nội (still 10/09 in UTC); MH6 (Đảng ủy
    Khối) one by its file id alone."""
    await build_data(db, clock())
    store = channels_of(core).media.store
    await add_photos(db, store, "MH1", date(2026, 10, 20), [(OCT_1, "jpg"), (PNG, "png")])
    await add_photos(db, store, "MH1", date(2026, 12, 2), [(NOV_1, "jpg"), "AgADold1"])
    await add_photos(db, store, "MH2", date(2026, 9, 10), [(SEP_1, "jpg")])
    await add_photos(db, store, "MH6", date(2026, 6, 28), ["AgADold6"])
    async with db.session() as session:
        mh2 = await session.scalar(select(Model.id).where(Model.code == "MH2"))
        await session.execute(
            update(Report)
            .where(Report.model_id == mh2)
            .values(submitted_at=datetime(2026, 9, 10, 18, 0, tzinfo=UTC))
        )


def sent_zip(api, chat_id: int) -> tuple[str, zipfile.ZipFile]:  # type: ignore[no-untyped-def]
    call = next(
        c for c in api.calls if c.method == "sendDocument" and int(c.params["chat_id"]) == chat_id
    )
    name, content = call.params["_files"]["document"]
    return name, zipfile.ZipFile(BytesIO(content))


EVERYTHING = {
    "MH1/MH1_2026-10-20_1.jpg": OCT_1,
    "MH1/MH1_2026-10-20_2.png": PNG,
    "MH1/MH1_2026-12-02_1.jpg": NOV_1,
    "MH2/MH2_2026-09-11_1.jpg": SEP_1,
}
MISSING = """2 ảnh chưa tải về kho ảnh (bot chỉ giữ mã tệp Telegram của chúng), theo mô hình:
• MH1, báo cáo kỳ 01/11/2026–30/11/2026: 1 ảnh
• MH6, báo cáo kỳ 01/06/2026–30/06/2026: 1 ảnh
Chạy lệnh dvk media fetch trên máy chủ để tải các ảnh này từ Telegram về kho ảnh, rồi xuất lại."""


async def test_admin_gets_every_photo_in_a_zip(data, chat, api, app, db):
    admin = chat(ADMIN_ID, "Quản trị")
    assert await admin.send("/xuatanh") == ["⏳ Đang gom ảnh minh chứng…"]
    first = admin.last_message()
    await finish_jobs(app)

    edits = [c for c in api.calls if c.method == "editMessageText"]
    assert edits and all(int(c.params["message_id"]) == first["message_id"] for c in edits)
    assert edits[-1].params["text"] == "⏳ Đang gom ảnh minh chứng: 4/4 ảnh"
    assert api.sent(ADMIN_ID)[-1].params["text"] == (
        "✅ Xong: 4 ảnh của 2 mô hình, mỗi mô hình một thư mục.\n"
        "⚠️ 2 ảnh chưa có trong kho ảnh, xem danh sách trong tệp chua-tai-ve.txt."
    )
    name, archive = sent_zip(api, ADMIN_ID)
    assert name == "anh-minh-chung-2026-11-26.zip"
    # Pictures are stored as they are, not compressed again.
    assert {info.compress_type for info in archive.infolist()} == {zipfile.ZIP_STORED}
    assert {n: archive.read(n) for n in archive.namelist() if n != "chua-tai-ve.txt"} == EVERYTHING
    assert archive.read("chua-tai-ve.txt").decode() == MISSING

    async with db.session() as session:
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "photos.exported")
        )
    assert entry.details == {"campaign": None, "units": None, "photos": 4, "missing": 2}


async def test_coordinator_gets_only_their_units_photos(data, chat, api, app, db, clock):
    async with db.session() as session:
        vp = await unit_by_code(session, code="CB-VP")
        duk = await unit_by_code(session, code="DUK")
    await make_coordinator(db, unit_id=vp.id, telegram_id=9002, now=clock())
    await make_coordinator(db, unit_id=duk.id, telegram_id=9001, now=clock())

    await chat(9002, "Phụ trách VP").send("/xuatanh DVK26")
    await finish_jobs(app)
    name, archive = sent_zip(api, 9002)
    assert name == "anh-minh-chung-DVK26-2026-11-26.zip"
    mine = {n for n in EVERYTHING if n.startswith("MH1/")}
    assert set(archive.namelist()) == mine | {"chua-tai-ve.txt"}
    assert "MH6" not in archive.read("chua-tai-ve.txt").decode()
    assert api.sent(9002)[-1].params["text"].startswith("✅ Xong: 3 ảnh của 1 mô hình")

    # The unit above has the units below it.
    await chat(9001, "Phụ trách khối").send("/xuatanh")
    await finish_jobs(app)
    _, archive = sent_zip(api, 9001)
    assert set(archive.namelist()) == set(EVERYTHING) | {"chua-tai-ve.txt"}


async def test_one_campaign_and_a_campaign_that_does_not_exist(data, chat, api, app):
    admin = chat(ADMIN_ID, "Quản trị")
    assert await admin.send("/xuatanh KHONGCO") == ["Không có đợt phát động mã KHONGCO."]
    # DVK24 has no report: nothing to zip.
    await admin.send("/xuatanh dvk24")
    await finish_jobs(app)
    assert api.sent(ADMIN_ID)[-1].params["text"] == (
        "Chưa có ảnh minh chứng nào trong các báo cáo bạn được xem."
    )
    assert "sendDocument" not in api.methods()


async def test_a_zip_too_big_for_telegram_says_how_to_get_it(data, chat, app, api, monkeypatch):
    from bot.telegram import delivery as telegram_channel

    monkeypatch.setattr(telegram_channel, "UPLOAD_LIMIT_MB", 0)
    await chat(ADMIN_ID, "Quản trị").send("/xuatanh")
    await finish_jobs(app)
    texts = [c.params["text"] for c in api.sent(ADMIN_ID)]
    assert texts[-2].startswith("Tệp anh-minh-chung-2026-11-26.zip nặng 0")
    assert "dvk export --photos" in texts[-2]
    assert "sendDocument" not in api.methods()


async def test_the_command_is_in_the_staff_menu_and_help(data, chat, api):
    from handlers.core.menu import ADMIN, COORDINATOR

    assert "xuatanh" in COORDINATOR and "xuatanh" not in ADMIN
    text = (await chat(ADMIN_ID, "Quản trị").send("/help"))[0]
    assert "/xuatanh [MÃ ĐỢT] — tải toàn bộ ảnh minh chứng" in text


# --- the command line ---------------------------------------------------------------------------


async def test_dvk_export_photos_into_a_folder(
    data, db, database_url, settings, monkeypatch, tmp_path, capsys
):
    monkeypatch.setenv("DVK_DATABASE_URL", database_url)
    monkeypatch.setenv("DVK_MEDIA_DIR", str(settings.media_dir))
    target = tmp_path / "anh"
    assert await asyncio.to_thread(main, ["export", "--photos", str(target)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert out[-1] == "photos=4 models=2 missing=2"
    assert out[-2] == f"Đã lưu 4 ảnh minh chứng của 2 mô hình vào {target}."
    assert "\n".join(out[:-2]) == MISSING
    written = {
        str(path.relative_to(target)): path.read_bytes()
        for path in target.rglob("*")
        if path.is_file() and path.name != "chua-tai-ve.txt"
    }
    assert written == EVERYTHING
    assert (target / "chua-tai-ve.txt").read_text(encoding="utf-8") == MISSING + "\n"

    # Once every photo is in the store, the list from before goes.
    async with db.session() as session:
        await session.execute(
            update(ReportPhoto)
            .where(ReportPhoto.media_key.is_(None))
            .values(media_key=key_for(SEP_1, "jpg"))
        )
    assert (
        await asyncio.to_thread(main, ["export", "--photos", str(target), "--campaign", "DVK26"])
        == 0
    )
    assert capsys.readouterr().out.strip().splitlines()[-1] == "photos=6 models=3 missing=0"
    assert not (target / "chua-tai-ve.txt").exists()
    assert (target / "MH6" / "MH6_2026-06-28_1.jpg").read_bytes() == SEP_1
    assert (
        await asyncio.to_thread(main, ["export", "--photos", str(target), "--campaign", "X"]) == 1
    )
    assert "Không có đợt phát động mã X." in capsys.readouterr().err


# --- the layout ---------------------------------------------------------------------------------


def photo(code: str, sent: datetime, key: str | None = "a" * 64 + ".jpg", model_id: int = 1):  # type: ignore[no-untyped-def]
    return EvidencePhoto(
        1, "AgAD", key, model_id, code, date(2026, 11, 1), date(2026, 11, 30), sent, 1
    )


def test_layout_names_by_model_code_local_date_and_number():
    evening = datetime(2026, 11, 27, 18, 30, tzinfo=UTC)  # 01:30 on 28/11 in Hà Nội
    photos = [
        photo("MH12", evening),
        photo("MH12", evening, "b" * 64 + ".png"),
        photo("MH12", datetime(2026, 11, 28, 3, tzinfo=UTC)),
        photo("MH12", datetime(2026, 11, 29, 3, tzinfo=UTC)),
        photo("MH12", evening, None),  # not in the store: no place in the folder
        photo("../Tổ 4/x", evening, model_id=40),  # an imported code: nothing outside its folder
        photo("//", evening, model_id=41),
    ]
    assert [path for path, _ in evidence_layout(photos, HANOI)] == [
        "MH12/MH12_2026-11-28_1.jpg",
        "MH12/MH12_2026-11-28_2.png",
        "MH12/MH12_2026-11-28_3.jpg",
        "MH12/MH12_2026-11-29_1.jpg",
        "T-4-x/T-4-x_2026-11-28_1.jpg",
        "MH41/MH41_2026-11-28_1.jpg",
    ]


@pytest.mark.parametrize(
    ("file_id", "telegram"),
    [
        ("AgACAgIAAxkBAAIBc2Zk-_9", True),
        ("a" * 64 + ".jpg", False),  # Zalo: the media key
        ("/home/an/anh.jpg", False),  # the terminal: a path
    ],
)
def test_which_file_ids_are_telegram_s(file_id, telegram):
    assert is_telegram_file_id(file_id) is telegram


def test_zip_names():
    assert zip_name(date(2026, 11, 28)) == "anh-minh-chung-2026-11-28.zip"
    assert zip_name(date(2026, 11, 28), "DVK 26/27") == "anh-minh-chung-DVK-26-27-2026-11-28.zip"
