"""Vietnamese numbers, dates and titles: the pure rules of reading them, shared by the chat
(`language/vn.py` re-exports them with its text cleaning and formatting) and the workbook import.

Every refusal is an :class:`InputError` whose ``key`` names a message in the bot's text catalog,
so the caller decides how to word it.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Iterable, Sequence
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


def fold(text: str) -> str:
    """Case- and diacritic-insensitive form for searching ("dang uy" finds "Đảng ủy")."""
    text = text.replace("đ", "d").replace("Đ", "D")
    decomposed = unicodedata.normalize("NFD", text.casefold())
    return " ".join("".join(c for c in decomposed if not unicodedata.combining(c)).split())


# --- titles ---------------------------------------------------------------------------------

TITLE_KEY_LENGTH = 200


def title_key(title: str) -> str:
    # NFD before casefold, NFC after: Unicode's recipe for canonical caseless matching.
    key = unicodedata.normalize("NFC", unicodedata.normalize("NFD", title).casefold())
    key = _ANY_SPACE.sub(" ", key).strip()
    # Casefolding can lengthen a text (ß -> ss); the key column holds 200 characters.
    return key.rstrip(" .!;:")[:TITLE_KEY_LENGTH]


# --- names ----------------------------------------------------------------------------------

# Characters that draw nothing yet are not format characters: the Hangul fillers are letters (Lo),
# the grapheme joiner and the Khmer inherent vowels marks, the braille blank a symbol.
_BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u034f\u17b4\u17b5\u2800")
# Vietnamese needs at most two marks on a letter (ệ = e + circumflex + dot below), and NFC
# composes those; more is "Zalgo" text that spills over the lines around it.
MAX_MARKS = 2
_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC")
# A run of letters and their marks: where a look-alike would pass for one of the word's letters.
_WORD = re.compile(r"(?:[^\W\d_]|[\u0300-\u036f])+")


def _invisible(ch: str) -> bool:
    if ch in _BLANK_GLYPHS or 0xFE00 <= ord(ch) <= 0xFE0F or 0xE0100 <= ord(ch) <= 0xE01EF:
        return True  # also the variation selectors, which only alter the glyph before them
    # Format (zero-width spaces and joiners, BOM, soft hyphen), private-use, unassigned.
    return unicodedata.category(ch) in ("Cf", "Co", "Cn", "Cs")


def _script(ch: str) -> str | None:
    prefix = unicodedata.name(ch, "").split(" ", 1)[0]
    return prefix if prefix in _SCRIPTS else None


def readable_name(raw: str) -> str:
    """A name other people will read (a person's, a collective's, a unit's): NFC, without the
    invisible characters pasted around it. Refused, each for its own reason, when it hides
    characters inside, has no letter, stacks marks, or disguises a Latin word with Greek or
    Cyrillic look-alikes. Length, emoji and punctuation are the caller's rules."""
    text = unicodedata.normalize("NFC", raw)
    start, end = 0, len(text)
    while start < end and (text[start].isspace() or _invisible(text[start])):
        start += 1
    while end > start and (text[end - 1].isspace() or _invisible(text[end - 1])):
        end -= 1
    text = text[start:end]
    if not text:
        raise InputError("error-empty")
    if any(_invisible(ch) for ch in text):
        raise InputError("error-name-invisible")
    if not any(unicodedata.category(ch)[0] == "L" for ch in text):
        raise InputError("error-name-no-letter")
    run = 0
    for ch in text:
        run = run + 1 if unicodedata.category(ch)[0] == "M" else 0
        if run > MAX_MARKS:
            raise InputError("error-name-marks", max=MAX_MARKS)
    for word in _WORD.findall(text):
        scripts = {_script(ch) for ch in word} - {None}
        if "LATIN" in scripts and len(scripts) > 1:
            raise InputError("error-name-scripts", word=word)
    return text


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
# What each word of a unit multiplies it by ("trđ" is "triệu đồng"), and its currency words.
_UNIT_SCALES = {**{fold(word): times for word, times in _MULTIPLIERS.items()}, "trd": 1_000_000}
_UNIT_CURRENCIES = frozenset(fold(word) for word in _CURRENCIES)
_SPELLED_CURRENCIES = frozenset(_CURRENCIES) - {"đ"}


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


# A number and what follows it: "15 người", "5 căn.", "7 giờ".
_WITH_WORDS = re.compile(r"(?P<num>-?[0-9][0-9.,]*)\s*(?P<rest>[^\W\d_]+(?:\s+[^\W\d_]+)*)[\s.]*")
# "1.5": a dot that does not separate thousands, so a decimal written the English way.
_DOT_DECIMAL = re.compile(r"-?[0-9]+\.[0-9]{1,2}|-?[0-9]+\.[0-9]{4,}")


def _without_unit(text: str, units: Sequence[str]) -> str:
    """The number alone when it is followed by one of the expected units (case and diacritics
    ignored). Other words are left for the amount words, and refused naming the unit when they
    are not amount words either."""
    match = _WITH_WORDS.fullmatch(text)
    if match is None:
        return text
    rest = fold(match["rest"])
    if rest in {fold(unit) for unit in units}:
        return match["num"]
    amount = _NUMBER_RE.fullmatch(text)
    if units and amount is None:
        raise InputError("error-number-unit", word=match["rest"].strip(), unit=units[0])
    currency = amount["cur"] if amount is not None else None
    if currency in _SPELLED_CURRENCIES and units and not any(_is_money(u) for u in units):
        # "50.000.000 đồng" is money: not a count of km, people or houses. ("9đ" may be a
        # score, "điểm": "đ" alone is left as it was.)
        raise InputError("error-number-unit", word=currency, unit=units[0])
    return text


def _unit_words(unit: str) -> list[str]:
    """A unit's words, folded, up to a "per" ("đồng/tháng" is counted in đồng); punctuation
    separates them ("tr.đồng", "triệu (VNĐ)")."""
    return re.findall(r"[^\W_]+|₫", fold(unit.split("/", 1)[0]))


def _is_money(unit: str) -> bool:
    """A unit in đồng ("đồng", "VNĐ", "đồng/tháng", "trđ") or in amount words ("triệu")."""
    return any(w in _UNIT_CURRENCIES or w in _UNIT_SCALES for w in _unit_words(unit))


def _scale(unit: str) -> int:
    """How many of the amount typed one `unit` is, when the unit is made of amount words and a
    currency only: "triệu đồng" 1,000,000, "tỷ" 1,000,000,000, "đồng" 1; else 1."""
    scale = 1
    for word in _unit_words(unit):
        if word in _UNIT_SCALES:
            scale *= _UNIT_SCALES[word]
        elif word not in _UNIT_CURRENCIES:
            return 1
    return scale


def parse_number(
    raw: str,
    *,
    integer: bool = False,
    minimum: Decimal | None = None,
    maximum: Decimal | None = None,
    units: Sequence[str] = (),
) -> Decimal:
    """A number written the Vietnamese way, with an amount word ("5 triệu", "130 tỷ đồng") or
    one of the `units` the question expects ("15 người"; the first is named when refused)."""
    text = unicodedata.normalize("NFC", raw).strip().casefold()
    units = [unit for unit in units if unit.strip()]
    if len(text) <= 64:
        text = _without_unit(text, units)
    match = _NUMBER_RE.fullmatch(text) if len(text) <= 64 else None
    if match is None:
        raise InputError("error-number")
    number = match["num"]
    if number.startswith("-") and (minimum is None or minimum >= 0):
        raise InputError("error-number-negative", min=format_number(minimum or 0))
    if _DOT_DECIMAL.fullmatch(number):
        key = "error-integer-dot" if integer else "error-number-dot"
        raise InputError(key, raw=number, comma=number.replace(".", ","))
    try:
        value = parse_decimal(number, locale=LOCALE, strict=True)
    except NumberFormatError:
        raise InputError("error-number") from None
    if match["mult"]:
        value *= _MULTIPLIERS[match["mult"]]
    scale = _scale(units[0]) if units and (match["mult"] or match["cur"]) else 1
    if scale > 1:
        # An amount in đồng for a question in "triệu đồng": "1,5 tỷ" is 1.500 of them, to the
        # four decimals a figure is kept with.
        value = (value / scale).quantize(Decimal("0.0001"))
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
        raise InputError("error-date-year", year=year)
    if not 1 <= month <= 12:
        raise InputError("error-date-month", month=month)
    try:
        return date(year, month, day)
    except ValueError:
        # Written the right way, but the month has no such day ("31/02/2026").
        last = calendar.monthrange(year, month)[1]
        raise InputError("error-date-day", day=day, month=month, year=year, last=last) from None
