"""Message catalogs: one TOML file per language, flat readable keys, `{placeholders}`."""

from __future__ import annotations

import tomllib
from functools import cache
from pathlib import Path
from string import Formatter

CATALOG_DIR = Path(__file__).parent
DEFAULT_LANGUAGE = "vi"


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
        return template.format(**params) if params else template

    def has(self, key: str) -> bool:
        return key in self._catalog or key in self._fallback
