"""Vietnamese numbers, dates and titles: the pure rules of reading them, shared by the chat
(`handlers/vn.py` re-exports them with its text cleaning and formatting) and the workbook import.

Every refusal is an :class:`InputError` whose ``key`` names a message in the bot's text catalog,
so the caller decides how to word it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from babel.numbers import NumberFormatError, format_decimal, parse_decimal

LOCALE = "vi"
_ANY_SPACE = re.compile(r"\s+")


class InputError(ValueError):
    """Bad user input. `key` is a message-catalog key, `params` fill its placeholders."""

    def __init__(self, key: str, **params: object) -> None:
        super().__init__(key, params)
        self.key = key
        self.params: dict[str, object] = params


# --- titles ---------------------------------------------------------------------------------

TITLE_KEY_LENGTH = 200


def title_key(title: str) -> str:
    # NFD before casefold, NFC after: Unicode's recipe for canonical caseless matching.
    key = unicodedata.normalize("NFC", unicodedata.normalize("NFD", title).casefold())
    key = _ANY_SPACE.sub(" ", key).strip()
    # Casefolding can lengthen a text (ß -> ss); the key column holds 200 characters.
    return key.rstrip(" .!;:")[:TITLE_KEY_LENGTH]


# --- numbers --------------------------------------------------------------------------------

_MULTIPLIERS: dict[str, int] = {
    "k": 1_000,
    "nghìn": 1_000,
    "nghin": 1_000,
    "ngàn": 1_000,
    "ngan": 1_000,
    "tr": 1_000_000,
    "triệu": 1_000_000,
    "trieu": 1_000_000,
    "tỷ": 1_000_000_000,
    "tỉ": 1_000_000_000,
    "ty": 1_000_000_000,
    "ti": 1_000_000_000,
}
_CURRENCIES = ("đồng", "dong", "vnđ", "vnd", "đ", "₫")


def _alternation(words: Iterable[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(words, key=len, reverse=True))


# The numeric part is pre-checked here so babel never sees exponents, inf/nan, a bare
# leading/trailing comma or non-ASCII digits; babel then validates the grouping.
_NUMBER_RE = re.compile(
    rf"(?P<num>-?[0-9][0-9.]*(?:,[0-9]+)?)\s*"
    rf"(?P<mult>{_alternation(_MULTIPLIERS)})?\s*"
    rf"(?P<cur>{_alternation(_CURRENCIES)})?"
)
_MAX_NUMBER = Decimal(10) ** 15  # more than 15 integer digits is a typo, not an amount


def _tidy(value: Decimal) -> Decimal:
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def parse_number(
    raw: str,
    *,
    integer: bool = False,
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
) -> Decimal:
    text = unicodedata.normalize("NFC", raw).strip().casefold()
    match = _NUMBER_RE.fullmatch(text) if len(text) <= 64 else None
    if match is None:
        raise InputError("error-number")
    number = match["num"]
    if number.startswith("-") and (minimum is None or minimum >= 0):
        raise InputError("error-number")
    try:
        value = parse_decimal(number, locale=LOCALE, strict=True)
    except NumberFormatError:
        raise InputError("error-number") from None
    if match["mult"]:
        value *= _MULTIPLIERS[match["mult"]]
    if not value.is_finite() or abs(value) >= _MAX_NUMBER:
        raise InputError("error-number")
    value = _tidy(value)
    if integer and value != value.to_integral_value():
        raise InputError("error-integer")
    if minimum is not None and value < minimum:
        raise InputError("error-number-min", min=format_number(minimum))
    if maximum is not None and value > maximum:
        raise InputError("error-number-max", max=format_number(maximum))
    return value


def format_number(value: Decimal | int | float) -> str:
    # The locale pattern "#,##0.###" drops a trailing ",0" and keeps at most 3 decimals.
    return format_decimal(value, locale=LOCALE)


# --- dates ----------------------------------------------------------------------------------

# Day first, four-digit year, one separator used consistently ("19/10-2023" is refused).
_DATE_RE = re.compile(r"([0-9]{1,2})\s*([/.-])\s*([0-9]{1,2})\s*\2\s*([0-9]{4})")


def parse_date(raw: str) -> date:
    match = _DATE_RE.fullmatch(raw.strip())
    if match is None:
        raise InputError("error-date")
    day, month, year = int(match[1]), int(match[3]), int(match[4])
    if not 2000 <= year <= 2100:
        raise InputError("error-date")
    try:
        return date(year, month, day)
    except ValueError:
        raise InputError("error-date") from None
