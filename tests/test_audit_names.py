"""/nhatky in Vietnamese (issue 12 item 9): kinds of entries by their names, filtered by those
names (with or without diacritics), by a group's name, or by the internal key as before."""

from __future__ import annotations

import re
from pathlib import Path

from handlers.admin.audit import ACTIONS, OBJECTS
from language.texts import Texts
from tests.conftest import ADMIN_ID
from tests.test_review import setup  # noqa: F401  (fixture)

ROOT = Path(__file__).resolve().parent.parent


async def test_the_log_reads_in_vietnamese_and_filters_by_names(setup, chat):  # noqa: F811
    coordinator, _ = setup
    await coordinator.send("/duyet")
    await coordinator.click("✅ Duyệt")
    admin = chat(ADMIN_ID, "Quản trị")

    lines = (await admin.send("/nhatky"))[0].splitlines()
    assert any(line.endswith("· Lê Văn Phụ Trách · Duyệt mô hình · mô hình #1") for line in lines)
    assert any("· Nguyễn Văn An · Gửi đăng ký mô hình · mô hình #1" in line for line in lines)
    assert not any(re.search(r"\b[a-z_]+\.[a-z_]+\b", line) for line in lines[1:-1]), lines

    for typed in ("/nhatky Duyệt mô hình", "/nhatky duyet mo hinh", "/nhatky model.approved"):
        lines = (await admin.send(typed))[0].splitlines()
        assert lines[0] == "🗂 Nhật ký (1 mục mới nhất):", typed
        assert "Duyệt mô hình · mô hình #1" in lines[1]
    # A group's name takes every kind in it, and the rest is a person's name.
    lines = (await admin.send("/nhatky mô hình Nguyễn Văn An"))[0].splitlines()
    assert lines[0] == "🗂 Nhật ký (1 mục mới nhất):"
    assert "Nguyễn Văn An · Gửi đăng ký mô hình" in lines[1]
    lines = (await admin.send("/nhatky mo hinh"))[0].splitlines()
    assert lines[0] == "🗂 Nhật ký (2 mục mới nhất):"
    assert await admin.send("/nhatky tham gia Không Ai") == ["Không có mục nhật ký nào khớp."]


def test_every_kind_the_code_writes_has_a_name():
    sources = [
        path.read_text(encoding="utf-8")
        for folder in ("bot", "handlers", "storage", "excel")
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.parts
    ]
    written = {
        match
        for text in sources
        for match in re.findall(r'(?:action=|: |= )"([a-z_]+\.[a-z_]+)"', text)
        if match.split(".")[0] in {a.split(".")[0] for a in ACTIONS}
    }
    # Written with the status in the key: every status they can take.
    written |= {f"model.{s}" for s in ("approved", "returned", "rejected")}
    written |= {f"join.{s}" for s in ("accepted", "refused")}
    written |= {f"commendation.{s}" for s in ("proposed", "decided")}
    assert written <= set(ACTIONS), sorted(written - set(ACTIONS))
    t = Texts()
    for action in ACTIONS:
        assert t.has("audit-action-" + action.replace(".", "-").replace("_", "-")), action
        assert t.has("audit-group-" + action.split(".")[0].replace("_", "-")), action
    for kind in OBJECTS:
        assert t.has("audit-object-" + kind.replace("_", "-")), kind
