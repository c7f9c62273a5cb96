"""The first hour, as a new user spends it (issue 12, "Trying it"): the quick start's demo is what
every command uses until a token or a database is configured, and the terminal chat behaves like
a terminal program (Ctrl-C, Ctrl-D, arrow keys, history), lets any message's options be pressed,
takes a photo and saves what the bot sends under data/downloads/."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select as query
from sqlalchemy import update

from bot.demo import seed
from bot.terminal import TerminalChat
from storage.models import Member, Model, ReportPhoto
from tests.conftest import TOKEN

ROOT = Path(__file__).resolve().parents[1]
PNG = b"\x89PNG\r\n\x1a\n" + bytes(32)
REGISTER = [
    "/dangky",
    "1",  # [1] Tập thể
    "Chi đoàn Thanh niên",
    "25",
    "Thanh niên tình nguyện xây nhà đại đoàn kết",
    "8",  # [8] An sinh xã hội
    "Mỗi tháng một ngày công tình nguyện",
    "Xây 2 căn nhà cho hộ nghèo",
    "nhà đại đoàn kết",
    "căn",
    "2",
    "2",  # [2] Xong
    "01/11/2026",
    "31/12/2026",
    "1",  # [1] Gửi đăng ký
]


def environment(**env: str) -> dict[str, str]:
    """This machine's environment without any DVK_ setting (no token, no database)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("DVK_")}
    return {**environ, "PYTHONPATH": str(ROOT), **env}


def dvk(cwd: Path, *args: str, stdin: str = "", **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", *args],
        cwd=cwd,  # no .env there
        env=environment(**env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
    )


# --- 1. every command uses the demo until something is configured ------------------------------


async def test_after_the_quick_start_every_command_uses_the_demo(tmp_path: Path) -> None:
    started = await asyncio.to_thread(dvk, tmp_path, "start", stdin="/thoat\n")
    assert started.returncode == 0, started.stderr
    assert "dvk chat --as admin" in started.stdout  # the first screen's hint

    admin = await asyncio.to_thread(dvk, tmp_path, "chat", "--as", "admin", stdin="/thongke\n")
    assert admin.returncode == 0, admin.stderr
    assert "dùng cơ sở dữ liệu thử data/demo.sqlite3" in admin.stderr
    assert "bạn là «admin»" in admin.stdout
    assert "• Đơn vị: 5, trong đó 0 đơn vị có đăng ký" in admin.stdout
    assert "Bạn không có quyền" not in admin.stdout

    coordinator = await asyncio.to_thread(
        dvk, tmp_path, "chat", "--as", "coordinator", stdin="/help\n"
    )
    assert "bạn là «phutrach»" in coordinator.stdout
    assert "Với vai trò cán bộ phụ trách:" in coordinator.stdout
    member = await asyncio.to_thread(dvk, tmp_path, "chat", "--as", "member", stdin="/help\n")
    assert "bạn là «an»" in member.stdout
    assert "/dangky — đăng ký mô hình" in member.stdout
    assert "Bạn chưa tham gia đơn vị nào" not in member.stdout

    newcomer = await asyncio.to_thread(
        dvk, tmp_path, "chat", "--as", "someone-new", stdin="/start DEMO-TV\nđồng ý\n"
    )
    assert "🔒 Thông báo về dữ liệu cá nhân" in newcomer.stdout  # before any question
    assert "Bạn được mời tham gia Chi bộ Văn phòng với vai trò thành viên" in newcomer.stdout

    stats = await asyncio.to_thread(dvk, tmp_path, "stats")
    assert stats.returncode == 0, stats.stderr
    assert stats.stdout.startswith("📊 Thống kê đợt «Dân vận khéo (đợt thử)»\n• Đơn vị: 5,")
    assert not (tmp_path / "data" / "dvk.sqlite3").exists()  # nothing else was opened


async def test_the_demo_is_seeded_when_a_command_comes_first(tmp_path: Path) -> None:
    done = await asyncio.to_thread(dvk, tmp_path, "chat", "--as", "member", stdin="/mohinh\n")
    assert done.returncode == 0, done.stderr
    assert "Đã tạo: đơn vị DUK" in done.stderr  # stdout is the chat's
    assert "Bạn chưa tham gia đơn vị nào" not in done.stdout
    # The demo's people have agreed to the personal-data notice (bot/demo.py).
    assert "Thông báo về dữ liệu cá nhân" not in done.stdout
    # Seeded once: the next command says nothing of it.
    again = await asyncio.to_thread(dvk, tmp_path, "stats")
    assert "created" not in again.stdout and "created" not in again.stderr


async def test_with_a_token_the_real_database_is_used(tmp_path: Path) -> None:
    """A token means the real bot: its database, never the demo's public invites."""
    assert (await asyncio.to_thread(dvk, tmp_path, "start", stdin="/thoat\n")).returncode == 0
    done = await asyncio.to_thread(
        dvk,
        tmp_path,
        "chat",
        "--as",
        "someone-new",
        stdin="/start DEMO-TV\n",
        DVK_TELEGRAM_TOKEN=TOKEN,
    )
    assert done.returncode == 0, done.stderr
    assert "demo.sqlite3" not in done.stderr
    assert "Bạn được mời" not in done.stdout
    assert (tmp_path / "data" / "dvk.sqlite3").exists()
    # A role word is nobody in particular there: "member" is a new person.
    member = await asyncio.to_thread(
        dvk, tmp_path, "chat", "--as", "member", stdin="", DVK_ZALO_TOKEN="zalo-token"
    )
    assert "bạn là «member»" in member.stdout


# --- 2. the terminal: keys, options of any message, photos, downloads ---------------------------


class Pty:
    """`dvk chat` on a pseudo-terminal, read until what is expected shows (never a sleep)."""

    def __init__(self, cwd: Path, *args: str) -> None:
        env = environment(TERM="xterm", COLUMNS="200")
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # the child: becomes dvk, with the pty as its terminal
            try:
                # As a shell starts it: earlier tests in this process may have blocked SIGINT,
                # and a blocked or ignored signal would be inherited through exec.
                signal.pthread_sigmask(signal.SIG_SETMASK, set())
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                os.chdir(cwd)
                os.execve(sys.executable, [sys.executable, "-m", "bot.cli", *args], env)
            finally:
                os._exit(127)
        self.seen = ""

    def expect(self, text: str, times: int = 1, timeout: float = 120) -> None:
        while self.seen.count(text) < times:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            assert ready, f"waited {timeout} s for {text!r}; got:\n{self.seen}"
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:  # EIO: the process closed the terminal
                chunk = b""
            assert chunk, f"ended before {text!r}; got:\n{self.seen}"
            self.seen += chunk.decode(errors="replace").replace("\r\n", "\n")

    def waiting_for_keys(self, timeout: float = 120) -> None:
        """Until the process waits in readline's poll for the next key. A signal that comes
        between readline echoing a key and polling again is only seen at the next key (CPython's
        readline checks signals when the poll is interrupted): a person cannot type that fast,
        a test can. Read from /proc where there is one; elsewhere the echo has to do."""
        wchan = Path(f"/proc/{self.pid}/wchan")
        deadline = time.monotonic() + timeout
        while wchan.exists() and "poll" not in wchan.read_text():
            assert time.monotonic() < deadline, f"never waited for a key:\n{self.seen}"

    def type(self, keys: str) -> None:
        os.write(self.fd, keys.encode())

    def end(self, timeout: float = 120) -> int:
        """Read to the end; the exit status."""
        while True:
            ready, _, _ = select.select([self.fd], [], [], timeout)
            assert ready, f"still running after {timeout} s:\n{self.seen}"
            try:
                chunk = os.read(self.fd, 65536)
            except OSError:
                break
            if not chunk:
                break
            self.seen += chunk.decode(errors="replace").replace("\r\n", "\n")
        os.close(self.fd)
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status)


@pytest.fixture
def demo(tmp_path: Path) -> Path:
    assert dvk(tmp_path, "start", stdin="/thoat\n").returncode == 0
    return tmp_path


# Ctrl-C drops a half-typed line too; Ctrl-D ends at an empty prompt (in a line it deletes).
@pytest.mark.parametrize(("typed", "key"), [("/mohi", "\x03"), ("", "\x04")], ids=["c", "d"])
def test_ctrl_c_and_ctrl_d_end_the_chat_cleanly(demo: Path, typed: str, key: str) -> None:
    chat = Pty(demo, "chat", "--as", "member")
    chat.expect("\n> ")
    chat.type(typed)
    chat.expect(f"> {typed}")
    chat.waiting_for_keys()
    chat.type(key)
    assert chat.end() == 0
    assert "Traceback" not in chat.seen
    assert "KeyboardInterrupt" not in chat.seen


def test_ctrl_c_while_the_bot_is_busy_ends_cleanly(demo: Path) -> None:
    chat = Pty(demo, "chat", "--as", "admin")
    chat.expect("\n> ")
    chat.type("/xuatexcel\r")
    chat.expect("⏳ Đang tạo tệp Excel…")  # the export is being made
    chat.type("\x03")
    assert chat.end() == 0
    assert "Traceback" not in chat.seen
    assert "KeyboardInterrupt" not in chat.seen


def test_arrow_keys_edit_the_line_and_recall_history(demo: Path) -> None:
    chat = Pty(demo, "chat", "--as", "member")
    chat.expect("\n> ")
    chat.type("/hlp\x1b[D\x1b[De\r")  # "/hlp", two steps left, "e": "/help"
    chat.expect("/help — xem hướng dẫn này")
    chat.expect("\n> ")
    chat.type("\x1b[A\r")  # up: "/help" again
    chat.expect("/help — xem hướng dẫn này", times=2)
    chat.expect("\n> ", times=3)
    chat.type("\x04")
    assert chat.end() == 0
    assert chat.seen.count("/help — xem hướng dẫn này") == 2, chat.seen
    assert "/help" in (demo / "data" / "chat-history").read_text()

    # The history outlives the chat: the next one recalls it.
    again = Pty(demo, "chat", "--as", "member")
    again.expect("\n> ")
    again.type("\x1b[A\r")
    again.expect("/help — xem hướng dẫn này")
    again.expect("\n> ", times=2)
    again.type("\x04")
    assert again.end() == 0


def head(path: Path) -> bytes:
    return path.read_bytes()[:4]


async def seeded(db, clock) -> None:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        await seed(session, now=clock(), today=clock().astimezone().date())


async def test_an_earlier_message_s_options_can_be_pressed(core, db, clock) -> None:  # type: ignore[no-untyped-def]
    await seeded(db, clock)
    guest = TerminalChat(core, "khach", [].append)
    for line in ("/start", "1", "Lý Thị Hoa", "1", "bệnh viện", "/boqua", "1"):
        await guest.say(line)
    lines: list[str] = []
    admin = TerminalChat(core, "admin", lines.append)
    await admin.queued()
    assert lines[-1].startswith("[a] 🔔")
    assert "Yêu cầu tham gia mới\nHọ tên: Lý Thị Hoa" in lines[-1]
    await admin.say("/tomtat")  # a newer message with options of its own
    assert lines[-1].startswith("[b] ")

    await admin.say("A1")  # the request's first option, pressed as its button would be

    assert "Đã chấp nhận Lý Thị Hoa vào Chi bộ Bệnh viện Đa khoa." in lines
    # A letter no message has, or an option it does not have, is just text.
    await admin.say("/huy")
    before = len(lines)
    await admin.say("z1")
    await admin.say("a9")
    assert [line for line in lines[before:] if line] == [
        "Tôi chưa hiểu ý bạn. Gõ /help để xem những việc bạn có thể làm."
    ] * 2


async def test_zalo_keeps_its_rule_of_the_newest_menu(core, db, clock) -> None:  # type: ignore[no-untyped-def]
    from bot.channels import ZALO

    await seeded(db, clock)
    guest = TerminalChat(core, "khach", [].append)
    for line in ("/start", "1", "Lý Thị Hoa", "1", "bệnh viện", "/boqua", "1"):
        await guest.say(line)
    lines: list[str] = []
    admin = TerminalChat(core, "admin", lines.append, looks=ZALO)
    await admin.queued()
    assert lines[-1].startswith("🔔") and "Yêu cầu tham gia mới" in lines[-1]
    await admin.say("/tomtat")
    await admin.say("a1")
    assert "Đã chấp nhận Lý Thị Hoa vào Chi bộ Bệnh viện Đa khoa." not in lines
    assert not any(line.startswith("[") for line in lines)


async def test_a_photo_at_a_photo_step_and_what_the_bot_sends_is_saved(  # type: ignore[no-untyped-def]
    core, db, clock, settings, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    await seeded(db, clock)
    lines: list[str] = []
    an = TerminalChat(core, "an", lines.append)
    for line in REGISTER:
        await an.say(line)
    async with db.session() as session:
        await session.execute(update(Model).values(status="approved"))
    await an.say("/baocao")
    await an.say("Xây xong móng căn nhà thứ nhất")
    await an.say("1")
    assert lines[-1].startswith("Gửi ảnh minh chứng")
    (tmp_path / "ghi-chu.txt").write_text("không phải ảnh")
    (tmp_path / "gia.png").write_bytes(b"not a picture")
    (tmp_path / "mong nha.png").write_bytes(PNG)

    await an.say(f"@{tmp_path / 'ghi-chu.txt'}")
    assert lines[-1].startswith("⚠️")  # a document where a photo is asked for
    await an.say(f"@{tmp_path / 'gia.png'}")
    assert lines[-1] == core.texts("media-photo-type")
    await an.say(f"\\@{tmp_path / 'mong nha.png'}")  # a backslash: the line as typed, text
    assert lines[-1].startswith("⚠️ Ở bước này hãy gửi ảnh")
    await an.say(f'@"{tmp_path / "mong nha.png"}"')

    assert "] Đã nhận 1 ảnh. Gửi thêm" in lines[-1]
    assert [p.read_bytes() for p in settings.media_dir.rglob("*") if p.is_file()] == [PNG]

    # The admin's statistics come with a chart, and the export is a file: both land in
    # data/downloads/, named so that nothing is overwritten, and their paths are shown.
    async with db.session() as session:
        await session.execute(update(Member).values(is_admin=True))
    await an.say("/thongke")
    picture = Path("data/downloads/anh-20261126-090000.png")
    assert core.texts("terminal-picture-saved", path=picture) in lines
    assert head(picture) == b"\x89PNG"
    await an.say("/xuatexcel")
    await an.say("/xuatexcel")
    for name in ("dan-van-kheo-2026-11-26.xlsx", "dan-van-kheo-2026-11-26-2.xlsx"):
        written = Path("data/downloads") / name
        assert core.texts("terminal-file-saved", path=written) in lines
        assert head(written)[:2] == b"PK"
    assert not list(tmp_path.glob("*.xlsx"))  # nothing beside the repository's files
    async with db.session() as session:
        assert await session.scalar(query(ReportPhoto)) is None  # the report is not sent yet
