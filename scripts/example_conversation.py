"""Writes docs/example-conversation.md from the bot itself: a fresh demo database (`dvk
demo-seed`'s units, campaign, people and invites) on a fixed clock, and the real core driven
through the terminal channel (`dvk chat`), line by line, as people would type. A newcomer joins
with the invite DEMO-TV (agreeing to the personal-data notice first), registers a model with
/dangky, the coordinator approves it with /duyet, and the newcomer reads the outcome.

    .venv/bin/python -m scripts.example_conversation        # rewrite the file
    .venv/bin/python -m scripts.example_conversation --check # exit 1 when it is out of date

tests/test_example_conversation.py fails when the committed file no longer matches."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from bot.config import Settings
from bot.demo import seed
from bot.runtime import build_core
from bot.terminal import TerminalChat
from storage.db import Database
from storage.migrate import upgrade

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "docs" / "example-conversation.md"
# 09:00 in Hà Nội on Thursday 26/11/2026: outside quiet hours, inside the demo campaign.
NOW = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)

# Who types what, turn by turn; a number picks an option of the message above.
SECTIONS: list[tuple[str, str, list[str]]] = [
    (
        "minh",
        "Hoàng Văn Minh joins with the invite DEMO-TV and registers a model",
        [
            "/start DEMO-TV",
            "đồng ý",
            "Hoàng Văn Minh",
            "5",
            "0988 123 456",
            "/dangky",
            "1",
            "Chi đoàn Thanh niên",
            "25 người",
            "Thanh niên tình nguyện xây nhà đại đoàn kết",
            "8",
            "Mỗi tháng một ngày công tình nguyện",
            "Xây 2 căn nhà cho hộ nghèo",
            "nhà đại đoàn kết",
            "căn",
            "2 căn",
            "xong",
            "01/12/2026",
            "31/12/2026",
            "1",
        ],
    ),
    (
        "phutrach",
        "Lê Văn Phụ Trách, coordinator of Chi bộ Văn phòng, approves it",
        ["/duyet", "1"],
    ),
    ("minh", "Hoàng Văn Minh opens the chat again and is told", ["/mohinh"]),
]

HEADER = """# Example conversation: a registration from the invite to its approval

<!-- Written by `python -m scripts.example_conversation`; do not edit by hand. -->

What the bot really says, in the terminal chat (`dvk chat`), on a fresh demo database
(`dvk demo-seed`) at 09:00 on 26/11/2026. The terminal shows buttons as numbered options; a
number typed picks one, and so does an option's name («xong»). On Telegram the same options are
buttons; on Zalo they are numbered as here. Lines after `>` are what the person types. Before
the first question about them, a newcomer is shown the personal-data notice and agrees to it
(see [du-lieu-ca-nhan.md](du-lieu-ca-nhan.md)).

The file is written by [scripts/example_conversation.py](../scripts/example_conversation.py)
from the bot itself; `tests/test_example_conversation.py` fails when the bot says something
else, and `.venv/bin/python -m scripts.example_conversation` writes it again.
"""


async def conversation(database_url: str) -> str:
    db = Database.from_url(database_url)
    try:
        await upgrade(db.engine)
        settings = Settings(_env_file=None, database_url=database_url)
        core = build_core(settings, db, lambda: NOW)
        async with db.session() as session:
            await seed(session, now=NOW, today=NOW.astimezone(core.config.timezone).date())
        lines: list[str] = []
        chats = {person: TerminalChat(core, person, lines.append) for person, _, _ in SECTIONS}
        sections: list[str] = [HEADER]
        for person, heading, typed_lines in SECTIONS:
            sections.append(f"\n## {heading}\n\n`dvk chat --as {person}`\n")
            lines.clear()
            await chats[person].queued()  # what waited for them, as when the chat opens
            for typed in typed_lines:
                lines.append(f"\n> {typed}")
                await chats[person].say(typed)
            sections.append(_block(lines))
        return "".join(sections)
    finally:
        await db.dispose()


def _block(lines: list[str]) -> str:
    text = "\n".join(lines).strip("\n")
    return f"\n```text\n{text}\n```\n"


async def render() -> str:
    with tempfile.TemporaryDirectory() as folder:
        return await conversation(f"sqlite+aiosqlite:///{Path(folder) / 'example.sqlite3'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only say whether it is current")
    args = parser.parse_args(argv)
    text = asyncio.run(render())
    if args.check:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print(f"{TARGET.relative_to(ROOT)} is out of date", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"written: {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
