"""Codes that people type for units and campaigns: short, Latin letters and digits."""

from __future__ import annotations

import re

from language import vn

CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


def check_code(value: str) -> None:
    if not CODE_RE.match(value):
        raise vn.InputError("error-code")
