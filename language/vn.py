"""Parse and format user input the Vietnamese way.

Pure functions only: every refusal is an :class:`InputError` whose ``key`` names a message in
the bot's text catalog, so the handlers decide how to word it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

# The parsing rules live in storage, which the workbook import shares; re-exported here.
from language.vietnamese import (  # noqa: F401
    LOCALE,
    TITLE_KEY_LENGTH,
    InputError,
    fold,
    format_number,
    parse_date,
    parse_number,
    readable_name,
    title_key,
)

# --- text -------------------------------------------------------------------------------------

_EMOJI_RANGES = ((0x1F000, 0x1FAFF), (0x2600, 0x27BF), (0x2B00, 0x2BFF))
_EMOJI_CHARS = frozenset("\ufe0f\u200d\u20e3")  # variation selector, ZWJ, keycap


def _is_emoji(ch: str) -> bool:
    cp = ord(ch)
    return (
        ch in _EMOJI_CHARS
        or any(lo <= cp <= hi for lo, hi in _EMOJI_RANGES)
        or unicodedata.category(ch) == "So"
    )


def contains_emoji(text: str) -> bool:
    return any(_is_emoji(ch) for ch in text)


def _is_control(ch: str) -> bool:
    # \t and \r are plain whitespace typed or pasted by users; they are normalised, not refused.
    return ch not in "\n\t\r" and unicodedata.category(ch) in ("Cc", "Cf")


_HSPACE = re.compile(r"[^\S\n]+")
_ANY_SPACE = re.compile(r"\s+")


def clean_text(raw: str, *, max_length: int, min_length: int = 1, multiline: bool = False) -> str:
    # Vietnamese keyboards (notably on macOS/iOS) may send decomposed NFD diacritics.
    text = unicodedata.normalize("NFC", raw).replace("\r\n", "\n").replace("\r", "\n")
    if contains_emoji(text):
        raise InputError("error-emoji")
    if any(_is_control(ch) for ch in text):
        raise InputError("error-control")
    if multiline:
        text = _HSPACE.sub(" ", text)
        text = re.sub(r" ?\n ?", "\n", text)
        text = re.sub(r"\n{3,}", "\n\n", text)
    else:
        text = _ANY_SPACE.sub(" ", text)
    text = text.strip()
    if not text:
        raise InputError("error-empty")
    if len(text) < min_length:
        raise InputError("error-too-short", min=min_length)
    if len(text) > max_length:
        raise InputError("error-too-long", max=max_length, length=len(text))
    return text


# Typographic apostrophe: iOS keyboards send it instead of "'" by default.
_NAME_PUNCTUATION = frozenset(" .,-'’()/&0123456789")


def clean_name(raw: str, *, max_length: int = 100) -> str:
    """A person's or a collective's name: readable (see `readable_name`), and only letters,
    spaces and the punctuation names use."""
    name = clean_text(readable_name(raw), max_length=max_length, min_length=2)
    for ch in name:
        # Marks (M*) cover combining diacritics that have no precomposed NFC form.
        if ch not in _NAME_PUNCTUATION and unicodedata.category(ch)[0] not in "LM":
            raise InputError("error-name")
    return name


# --- numbers ----------------------------------------------------------------------------------

_TY = Decimal(1_000_000_000)
_TRIEU = Decimal(1_000_000)


def format_amount(value: Decimal | int | float, unit: str | None = None) -> str:
    amount = value if isinstance(value, Decimal) else Decimal(str(value))
    size = abs(amount)
    if size >= _TY and size % (_TY / 10) == 0:
        text = f"{format_number(amount / _TY)} tỷ"
    elif size >= _TRIEU and size % (_TRIEU / 10) == 0:
        text = f"{format_number(amount / _TRIEU)} triệu"
    else:
        text = format_number(amount)
    return f"{text} {unit}" if unit else text


def format_percent(part: Decimal, whole: Decimal) -> str:
    """How much of a target was reached, in whole percent ("82"), the same everywhere."""
    return format_number(round(part / whole * 100))


def format_rounded(value: Decimal | int, unit: str | None = None) -> str:
    """A large total the way reports write it: rounded down to three significant digits (whole
    tỷ from 1.000 tỷ), with "hơn" when something was dropped ("hơn 130 tỷ đồng", "11,2 tỷ
    đồng"). Below a million it is written whole ("1.061 căn"): counts are never rounded."""
    amount = value if isinstance(value, Decimal) else Decimal(value)
    if abs(amount) < _TRIEU:
        text = format_number(amount)
        return f"{text} {unit}" if unit else text
    scale, word = (_TY, "tỷ") if abs(amount) >= _TY else (_TRIEU, "triệu")
    scaled = amount / scale
    # Keep three significant digits of the scaled number: 130,5 -> 130; 11,25 -> 11,2.
    places = max(0, 3 - len(str(int(abs(scaled)))))
    step = Decimal(1).scaleb(-places)
    kept = scaled.quantize(step, rounding="ROUND_DOWN")
    text = f"{format_number(kept)} {word}"
    if kept != scaled:
        text = f"hơn {text}"
    return f"{text} {unit}" if unit else text


# --- dates, phones ----------------------------------------------------------------------------


def format_date(d: date) -> str:
    return f"{d.day:02d}/{d.month:02d}/{d.year:04d}"


def format_datetime(dt: datetime, tz: ZoneInfo) -> str:
    if dt.tzinfo is None or dt.utcoffset() is None:
        # astimezone() would silently treat a naive value as the server's local time.
        raise ValueError("format_datetime needs an aware datetime")
    local = dt.astimezone(tz)
    return f"{format_date(local.date())} {local:%H:%M}"


_PHONE_JUNK = re.compile(r"[\s.\-()]")
# Mobiles: 10 digits (03x, 05x, 07x-09x); fixed lines: 02x area code + 8 digits = 11.
_PHONE_RE = re.compile(r"0[3-9][0-9]{8}|02[0-9]{9}")


def parse_phone(raw: str) -> str:
    digits = _PHONE_JUNK.sub("", raw)
    for prefix in ("+84", "0084", "84"):
        if digits.startswith(prefix):
            # "+84 (0) 912 345 678" is a common way of writing it: drop the trunk 0 as well.
            digits = "0" + digits.removeprefix(prefix).removeprefix("0")
            break
    if _PHONE_RE.fullmatch(digits) is None:
        raise InputError("error-phone")
    return digits


def format_phone(phone: str) -> str:
    """A stored number the way people write it: "0912 345 678", "024 3825 1234"; anything
    else (an imported oddity) as it is."""
    if len(phone) == 10 and phone.isdigit():
        return f"{phone[:4]} {phone[4:7]} {phone[7:]}"
    if len(phone) == 11 and phone.isdigit():
        return f"{phone[:3]} {phone[3:7]} {phone[7:]}"
    return phone
