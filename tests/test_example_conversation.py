"""docs/example-conversation.md is what the bot says: written by scripts/example_conversation.py
from the real core on a fresh demo database, and checked here against a new run."""

from __future__ import annotations

import difflib

from scripts.example_conversation import TARGET, render

REGENERATE = ".venv/bin/python -m scripts.example_conversation"


async def test_the_committed_example_is_what_the_bot_says():
    fresh = await render()
    committed = TARGET.read_text(encoding="utf-8")
    diff = "".join(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            fresh.splitlines(keepends=True),
            "docs/example-conversation.md (committed)",
            "what the bot says now",
            n=1,
        )
    )
    assert not diff, f"The example conversation is out of date; run `{REGENERATE}`.\n{diff}"


async def test_the_example_goes_from_the_invite_to_the_approval():
    text = await render()
    assert "> /start DEMO-TV" in text
    assert "✅ Đã gửi đăng ký mô hình «Thanh niên tình nguyện xây nhà đại đoàn kết»" in text
    assert (
        "🔔 ✅ Mô hình «Thanh niên tình nguyện xây nhà đại đoàn kết» của bạn đã được duyệt" in text
    )
