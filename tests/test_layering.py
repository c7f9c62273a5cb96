"""Telegram lives in bot/ only: handlers/ and storage/ stay channel-neutral so Zalo is one more
adapter. Checked on the source, since an import anywhere below would pull it in."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", ["handlers", "storage"])
def test_no_telegram_below_the_adapter(package):
    offenders = {
        str(path.relative_to(ROOT))
        for path in (ROOT / package).rglob("*.py")
        if "telegram" in imported_modules(path)
    }
    assert offenders == set()


def test_storage_does_not_depend_on_handlers_or_bot():
    offenders = {
        str(path.relative_to(ROOT))
        for path in (ROOT / "storage").rglob("*.py")
        if imported_modules(path) & {"handlers", "bot"} and "migrations" not in path.parts
    }
    assert offenders == set()
