"""Which commands each role sees in the channel's command menu."""

from __future__ import annotations

MEMBER = ("start", "help", "dangky", "mohinh", "baocao", "nhacnho", "tieptuc", "huy")
COORDINATOR = ("duyet", "donvi", "danhgia", "xuatexcel", "tomtat", "yeucau", "moi")
ADMIN = (
    "thongke",
    "khenthuong",
    "hoinghi",
    "nhatky",
    "maunhap",
    "nhapexcel",
    "themdonvi",
    "cacdonvi",
    "suadonvi",
    "phutrach",
    "quantri",
    "linhvuc",
    "taodot",
    "suadot",
    "cauhoi",
    "thongbao",
)


def commands_for(*, is_admin: bool, is_coordinator: bool) -> list[str]:
    names = list(MEMBER)
    if is_coordinator or is_admin:
        names += COORDINATOR
    if is_admin:
        names += ADMIN
    return names
