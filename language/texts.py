"""Message catalogs: one TOML file per language, flat readable keys, `{placeholders}`."""

from __future__ import annotations

import tomllib
from decimal import Decimal
from functools import cache
from pathlib import Path
from string import Formatter

from babel.numbers import format_decimal

CATALOG_DIR = Path(__file__).parent
DEFAULT_LANGUAGE = "vi"

# Placeholders that hold a quantity: a number given for them is written the language's way
# ("3.169 ký tự, tối đa 2.000"), so no caller can forget to. Years, ids, days and hours are
# not quantities and stay as they are ("năm 2026", "số 12").
QUANTITIES = frozenset(
    [
        "count",
        "total",
        "done",
        "new",
        "length",
        "max",
        "min",
        "size",
        "limit",
        "uses",
        "collective",
        "individual",
    ]
)


def _shown(name: str, value: object, language: str) -> object:
    if name in QUANTITIES and isinstance(value, int | Decimal) and not isinstance(value, bool):
        return format_decimal(value, locale=language)
    return value


@cache
def load_catalog(language: str) -> dict[str, str]:
    with (CATALOG_DIR / f"{language}.toml").open("rb") as fh:
        return tomllib.load(fh)


def languages() -> list[str]:
    return sorted(path.stem for path in CATALOG_DIR.glob("*.toml"))


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in Formatter().parse(template) if name}


class Texts:
    """Looks keys up in the person's language, falling back to Vietnamese."""

    def __init__(self, language: str = DEFAULT_LANGUAGE) -> None:
        self.language = language
        self._catalog = load_catalog(language)
        self._fallback = load_catalog(DEFAULT_LANGUAGE)

    def __call__(self, key: str, /, **params: object) -> str:
        template = self._catalog.get(key) or self._fallback[key]
        if not params:
            return template
        return template.format(**{k: _shown(k, v, self.language) for k, v in params.items()})

    def has(self, key: str) -> bool:
        return key in self._catalog or key in self._fallback
