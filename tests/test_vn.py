import unicodedata
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from language.vn import (
    InputError,
    clean_name,
    clean_text,
    contains_emoji,
    format_amount,
    format_date,
    format_datetime,
    format_number,
    format_phone,
    parse_date,
    parse_number,
    parse_phone,
    title_key,
)

D = Decimal


def nfd(text: str) -> str:
    return unicodedata.normalize("NFD", text)


def assert_refused(exc: pytest.ExceptionInfo[InputError], key: str, **params: object) -> None:
    assert exc.value.key == key
    assert exc.value.params == params


# --- InputError -------------------------------------------------------------------------------


def test_input_error_stores_key_and_params() -> None:
    err = InputError("error-too-long", max=200, length=201)
    assert isinstance(err, ValueError)
    assert err.key == "error-too-long"
    assert err.params == {"max": 200, "length": 201}
    assert InputError("error-empty").params == {}


# --- clean_text -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "kwargs", "expected"),
    [
        ("  Dân vận khéo  ", {}, "Dân vận khéo"),
        ("Dân \t  vận\t\tkhéo", {}, "Dân vận khéo"),
        ("Dân\nvận\n\nkhéo", {}, "Dân vận khéo"),
        ("Dân\u00a0vận", {}, "Dân vận"),
        (nfd("Mô hình “Dân vận khéo” ở xã Ấp Bắc"), {}, "Mô hình “Dân vận khéo” ở xã Ấp Bắc"),
        ("dòng 1\ndòng 2", {"multiline": True}, "dòng 1\ndòng 2"),
        ("dòng 1\n\ndòng 2", {"multiline": True}, "dòng 1\n\ndòng 2"),
        ("dòng 1\n\n\n\n\ndòng 2", {"multiline": True}, "dòng 1\n\ndòng 2"),
        ("dòng 1\r\ndòng 2\rdòng 3", {"multiline": True}, "dòng 1\ndòng 2\ndòng 3"),
        ("  a  \t b \n   c  \n\n", {"multiline": True}, "a b\nc"),
        ("Ивано Nguyễn Văn A", {}, "Ивано Nguyễn Văn A"),
        ("x" * 200, {"max_length": 200}, "x" * 200),
        ("ab", {"min_length": 2}, "ab"),
        ("Tăng 15% so với 2023 (1.061 hộ) — đạt 100%!", {}, None),
    ],
)
def test_clean_text_accepts(raw: str, kwargs: dict[str, object], expected: str | None) -> None:
    options: dict = {"max_length": 500, **kwargs}
    result = clean_text(raw, **options)
    assert result == (raw if expected is None else expected)
    assert unicodedata.is_normalized("NFC", result)


def test_clean_text_nfd_becomes_nfc() -> None:
    raw = nfd("Nguyễn Thị Hường")
    assert raw != "Nguyễn Thị Hường"
    assert clean_text(raw, max_length=100) == "Nguyễn Thị Hường"


@pytest.mark.parametrize(
    ("raw", "kwargs", "key", "params"),
    [
        ("", {}, "error-empty", {}),
        ("   \n\t ", {}, "error-empty", {}),
        ("\n\n", {"multiline": True}, "error-empty", {}),
        ("a", {"min_length": 2}, "error-too-short", {"min": 2}),
        ("  ab  ", {"min_length": 5}, "error-too-short", {"min": 5}),
        ("x" * 201, {"max_length": 200}, "error-too-long", {"max": 200, "length": 201}),
        (
            "Tiêu đề " + "y" * 193,
            {"max_length": 200},
            "error-too-long",
            {"max": 200, "length": 201},
        ),
        ("Chúc mừng 🎉", {}, "error-emoji", {}),
        ("😀", {}, "error-emoji", {}),
        ("Nắng ☀ đẹp", {}, "error-emoji", {}),
        ("Xong ✅", {}, "error-emoji", {}),
        ("Ngôi sao ⭐", {}, "error-emoji", {}),
        ("tim ❤\ufe0f", {}, "error-emoji", {}),
        ("gia đình 👨\u200d👩\u200d👧", {}, "error-emoji", {}),
        ("a\u200db", {}, "error-emoji", {}),
        ("cờ 🇻🇳", {}, "error-emoji", {}),
        ("1\u20e3", {}, "error-emoji", {}),
        ("ký hiệu ♫", {}, "error-emoji", {}),
        ("a\u200bb", {}, "error-control", {}),
        ("a\x00b", {}, "error-control", {}),
        ("a\x07b", {}, "error-control", {}),
        ("a\x1bb", {}, "error-control", {}),
        ("a\ufeffb", {}, "error-control", {}),
        ("a\u202eb", {}, "error-control", {}),
        ("a\x1cb", {"multiline": True}, "error-control", {}),
    ],
)
def test_clean_text_refuses(
    raw: str, kwargs: dict[str, object], key: str, params: dict[str, object]
) -> None:
    options: dict = {"max_length": 500, **kwargs}
    with pytest.raises(InputError) as exc:
        clean_text(raw, **options)
    assert_refused(exc, key, **params)


def test_clean_text_length_counts_nfc_characters() -> None:
    # 200 precomposed letters are 400 code points in NFD; the limit applies to what is stored.
    raw = nfd("ệ" * 200)
    assert len(raw) > 200
    assert clean_text(raw, max_length=200) == "ệ" * 200


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dân vận khéo", False),
        ("Đạt 100% (2,5 tỷ đồng)", False),
        ("", False),
        ("🎉", True),
        ("a\ufe0f", True),
        ("☎", True),
        ("⬛", True),
        ("🀄", True),
        ("🫠", True),
    ],
)
def test_contains_emoji(text: str, expected: bool) -> None:
    assert contains_emoji(text) is expected


# --- clean_name -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Nguyễn Văn An", "Nguyễn Văn An"),
        ("  nguyễn   thị  hường ", "nguyễn thị hường"),
        (nfd("Trần Thị Ánh Tuyết"), "Trần Thị Ánh Tuyết"),
        ("UBND xã Tân Phú", "UBND xã Tân Phú"),
        ("Hội LHPN Phường 3, Quận 10", "Hội LHPN Phường 3, Quận 10"),
        ("Chi hội Phụ nữ ấp 4/5 (xã A)", "Chi hội Phụ nữ ấp 4/5 (xã A)"),
        ("Công ty TNHH Sản xuất & Thương mại", "Công ty TNHH Sản xuất & Thương mại"),
        ("H'Hen Niê", "H'Hen Niê"),
        ("H’Hen Niê", "H’Hen Niê"),
        ("Y-Moan Ê-ban", "Y-Moan Ê-ban"),
        ("Nguyễn V. A.", "Nguyễn V. A."),
        ("Иван Petrov", "Иван Petrov"),
        ("李 Minh", "李 Minh"),
        ("Nguyễn\nVăn", "Nguyễn Văn"),
        ("An", "An"),
    ],
)
def test_clean_name_accepts(raw: str, expected: str) -> None:
    assert clean_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "kwargs", "key", "params"),
    [
        ("12345", {}, "error-name-no-letter", {}),
        ("...", {}, "error-name-no-letter", {}),
        ("Nguyễn Văn An!", {}, "error-name", {}),
        ("an@example.com", {}, "error-name", {}),
        ("Nguyễn_Văn", {}, "error-name", {}),
        ("Tổ #1", {}, "error-name", {}),
        ("Tên: A", {}, "error-name", {}),
        ('"A B"', {}, "error-name", {}),
        ("A", {}, "error-too-short", {"min": 2}),
        ("", {}, "error-empty", {}),
        ("An 🌸", {}, "error-emoji", {}),
        ("a" * 101, {}, "error-too-long", {"max": 100, "length": 101}),
        ("a" * 51, {"max_length": 50}, "error-too-long", {"max": 50, "length": 51}),
    ],
)
def test_clean_name_refuses(
    raw: str, kwargs: dict[str, int], key: str, params: dict[str, object]
) -> None:
    with pytest.raises(InputError) as exc:
        clean_name(raw, **kwargs)
    assert_refused(exc, key, **params)


# --- title_key --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Dân vận khéo", "dân vận khéo"),
        ("Dân vận khéo", "  DÂN   VẬN  KHÉO  "),
        ("Dân vận khéo", "Dân vận khéo."),
        ("Dân vận khéo", "Dân vận khéo!!!"),
        ("Dân vận khéo", "Dân vận khéo ;:"),
        ("Dân vận khéo", "Dân vận khéo . !"),
        ("Dân vận khéo", nfd("DÂN VẬN KHÉO")),
        ("Dân vận\nkhéo", "Dân vận\tkhéo"),
        ("Đường giao thông nông thôn", "đường giao thông nông thôn"),
    ],
)
def test_title_key_equal(a: str, b: str) -> None:
    assert title_key(a) == title_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Dân vận khéo", "Dân vân khéo"),
        ("Dân vận khéo", "Dan van kheo"),
        ("Mô hình 1", "Mô hình 2"),
        ("Dân vận khéo?", "Dân vận khéo"),
        ("Dân vận. Khéo", "Dân vận khéo"),
    ],
)
def test_title_key_different(a: str, b: str) -> None:
    assert title_key(a) != title_key(b)


def test_title_key_value() -> None:
    assert title_key("  Mô Hình  “Dân vận KHÉO”!  ") == "mô hình “dân vận khéo”"
    assert title_key("...") == ""


# --- parse_number -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1.061", D(1061)),
        ("1061", D(1061)),
        ("0", D(0)),
        ("2,5", D("2.5")),
        ("0,75", D("0.75")),
        ("1.061,25", D("1061.25")),
        ("1.000.000", D(1_000_000)),
        ("50.000.000", D(50_000_000)),
        ("50.000.000 đồng", D(50_000_000)),
        ("50.000.000đ", D(50_000_000)),
        ("50.000.000 đ", D(50_000_000)),
        ("50.000.000 VNĐ", D(50_000_000)),
        ("50.000.000 vnd", D(50_000_000)),
        ("50.000.000 vnđ", D(50_000_000)),
        ("50.000.000 VND", D(50_000_000)),
        ("50.000.000 Đồng", D(50_000_000)),
        ("50.000.000₫", D(50_000_000)),
        ("5 triệu", D(5_000_000)),
        ("5 TRIỆU", D(5_000_000)),
        ("5triệu", D(5_000_000)),
        ("5tr", D(5_000_000)),
        ("5 Tr", D(5_000_000)),
        ("5 triệu đồng", D(5_000_000)),
        ("5tr đ", D(5_000_000)),
        ("2,5 triệu", D(2_500_000)),
        ("1,5 tỷ", D(1_500_000_000)),
        ("1,5 tỉ", D(1_500_000_000)),
        ("1,5 Tỷ đồng", D(1_500_000_000)),
        ("130 tỷ", D(130_000_000_000)),
        ("1.000 tỷ", D(1_000_000_000_000)),
        ("200 nghìn", D(200_000)),
        ("200 ngàn", D(200_000)),
        ("200k", D(200_000)),
        ("200K", D(200_000)),
        ("200 nghìn đồng", D(200_000)),
        ("1,5k", D(1_500)),
        ("  1.061  ", D(1061)),
        ("\t5 triệu\n", D(5_000_000)),
        (nfd("5 triệu đồng"), D(5_000_000)),
        ("999.999.999.999.999", D(999_999_999_999_999)),
    ],
)
def test_parse_number_accepts(raw: str, expected: Decimal) -> None:
    assert parse_number(raw) == expected


def test_parse_number_whole_results_have_no_exponent() -> None:
    assert str(parse_number("1,5 tỷ")) == "1500000000"
    assert str(parse_number("130 tỷ")) == "130000000000"
    assert str(parse_number("2,50")) == "2.5"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "abc",
        "năm triệu",
        "1.061.",
        ".5",
        ",5",
        "5,",
        "1,2,3",
        "1.061,2,5",
        "--5",
        "+5",
        "5-",
        "5 triệu triệu",
        "5 tỷ triệu",
        "5 đồng triệu",
        "5 đồng đồng",
        "triệu",
        "đồng",
        "5 🎉",
        "🎉",
        "1e5",
        "1E5",
        "inf",
        "Infinity",
        "nan",
        "NaN",
        "1 000",
        "1_000",
        "1'000",
        "５",
        "١٢",
        "5 $",
        "5 usd",
        "5 triệu rưỡi",
        "1.000.000.000.000.000",
        "1000000000000000",
        "1.000.000 tỷ",
        "9" * 100,
    ],
)
def test_parse_number_refuses(raw: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_number(raw)
    assert_refused(exc, "error-number")


@pytest.mark.parametrize(
    ("raw", "kwargs", "expected"),
    [
        ("1.061", {"integer": True}, D(1061)),
        ("1,5 tỷ", {"integer": True}, D(1_500_000_000)),
        ("1,0", {"integer": True}, D(1)),
        ("5", {"minimum": D(5), "maximum": D(5)}, D(5)),
        ("0", {"minimum": D(0)}, D(0)),
        ("-5", {"minimum": D(-10)}, D(-5)),
        ("-2,5", {"minimum": D("-2.5")}, D("-2.5")),
        ("-1 triệu", {"minimum": D(-10_000_000)}, D(-1_000_000)),
        ("100", {"maximum": D(100)}, D(100)),
        ("15 người", {"units": ("người",)}, D(15)),
        ("15 NGUOI", {"units": ("người",)}, D(15)),
        ("5 căn.", {"units": ("căn",)}, D(5)),
        ("1.061 căn", {"units": ("căn",)}, D(1061)),
        ("7 giờ", {"units": ("giờ", "h")}, D(7)),
        ("7h", {"units": ("giờ", "h")}, D(7)),
        ("5 triệu", {"units": ("căn",)}, D(5_000_000)),
        ("50.000 đồng", {"units": ("VNĐ",)}, D(50_000)),
        ("5 triệu đồng", {"units": ("triệu đồng",)}, D(5)),
        ("2 tỷ đồng", {"units": ("đồng",)}, D(2_000_000_000)),
        # An amount in đồng for a question in "triệu đồng" is counted in millions.
        ("50 triệu", {"units": ("triệu đồng",)}, D(50)),
        ("50.000.000 đồng", {"units": ("triệu đồng",)}, D(50)),
        ("1,5 tỷ", {"units": ("triệu đồng",)}, D(1500)),
        ("500 nghìn", {"units": ("triệu đồng",)}, D("0.5")),
        ("50", {"units": ("triệu đồng",)}, D(50)),
        ("5 triệu đồng", {"units": ("nghìn đồng",)}, D(5000)),
        ("500 triệu", {"units": ("tỷ đồng",)}, D("0.5")),
        ("50.000.000 đ", {"units": ("triệu",)}, D(50)),
        # Units written with a "per", punctuation or an abbreviation.
        ("50 triệu", {"units": ("triệu đồng/người/năm",)}, D(50)),
        ("50 triệu đồng", {"units": ("đồng/tháng",)}, D(50_000_000)),
        ("50.000 đồng", {"units": ("VNĐ/tháng",)}, D(50_000)),
        ("50.000.000 đồng", {"units": ("trđ",)}, D(50)),
        ("50 triệu", {"units": ("tr.đồng",)}, D(50)),
        ("50 triệu đồng", {"units": ("triệu (VNĐ)",)}, D(50)),
        ("50 triệu", {"units": ("Triệu đồng.",)}, D(50)),
        ("50 triệu", {"units": ("triệu lượt",)}, D(50_000_000)),  # not money: not scaled
        ("9đ", {"units": ("điểm",)}, D(9)),  # "đ" alone may be a score
        ("12.345.678 đồng", {"units": ("triệu đồng",)}, D("12.3457")),  # kept to 4 decimals
        ("5", {"units": (" ",)}, D(5)),
    ],
)
def test_parse_number_limits_accept(raw: str, kwargs: dict, expected: Decimal) -> None:
    assert parse_number(raw, **kwargs) == expected


@pytest.mark.parametrize(
    ("raw", "kwargs", "key", "params"),
    [
        ("2,5", {"integer": True}, "error-integer", {}),
        ("0,001", {"integer": True}, "error-integer", {}),
        ("4", {"minimum": D(5)}, "error-number-min", {"min": "5"}),
        ("999", {"minimum": D(1000)}, "error-number-min", {"min": "1.000"}),
        ("0,5", {"minimum": D("1.5")}, "error-number-min", {"min": "1,5"}),
        ("1.001", {"maximum": D(1000)}, "error-number-max", {"max": "1.000"}),
        ("2 tỷ", {"maximum": D(1_000_000_000)}, "error-number-max", {"max": "1.000.000.000"}),
        ("-5", {"minimum": D(0)}, "error-number-negative", {"min": "0"}),
        ("-5", {"maximum": D(10)}, "error-number-negative", {"min": "0"}),
        ("-3", {"minimum": D(2)}, "error-number-negative", {"min": "2"}),
        ("1.5", {}, "error-number-dot", {"raw": "1.5", "comma": "1,5"}),
        ("0.5", {}, "error-number-dot", {"raw": "0.5", "comma": "0,5"}),
        ("10.00", {}, "error-number-dot", {"raw": "10.00", "comma": "10,00"}),
        ("1.0000", {}, "error-number-dot", {"raw": "1.0000", "comma": "1,0000"}),
        ("1.5", {"integer": True}, "error-integer-dot", {"raw": "1.5", "comma": "1,5"}),
        ("15 nguoi", {"units": ("căn",)}, "error-number-unit", {"word": "nguoi", "unit": "căn"}),
        ("5 căn nhà", {"units": ("căn",)}, "error-number-unit", {"word": "căn nhà", "unit": "căn"}),
        (
            "50.000 đồng",
            {"units": ("người",)},
            "error-number-unit",
            {"word": "đồng", "unit": "người"},
        ),
        (
            "50.000.000 đồng",
            {"units": ("km",)},
            "error-number-unit",
            {"word": "đồng", "unit": "km"},
        ),
        (
            "2 tỷ vnđ",
            {"units": ("căn", "nhà")},
            "error-number-unit",
            {"word": "vnđ", "unit": "căn"},
        ),
        ("2,5 người", {"integer": True, "units": ("người",)}, "error-integer", {}),
        ("-11", {"minimum": D(-10)}, "error-number-min", {"min": "-10"}),
    ],
)
def test_parse_number_limits_refuse(
    raw: str, kwargs: dict, key: str, params: dict[str, object]
) -> None:
    with pytest.raises(InputError) as exc:
        parse_number(raw, **kwargs)
    assert_refused(exc, key, **params)


# --- format_number / format_amount ------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1061, "1.061"),
        (D(1061), "1.061"),
        (2.5, "2,5"),
        (D("2.5"), "2,5"),
        (50_000_000, "50.000.000"),
        (0, "0"),
        (D("1.0"), "1"),
        (D("1000.000"), "1.000"),
        (D("1E+3"), "1.000"),
        (D("0.125"), "0,125"),
        (D("1.2344"), "1,234"),
        (-5, "-5"),
        (D("-1234.5"), "-1.234,5"),
        (999_999_999_999_999, "999.999.999.999.999"),
    ],
)
def test_format_number(value: Decimal | int | float, expected: str) -> None:
    assert format_number(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        D(0),
        D(1),
        D(7),
        D(999),
        D(1000),
        D(1061),
        D("2.5"),
        D("0.001"),
        D("0.125"),
        D("12345.678"),
        D(1_000_000),
        D(50_000_000),
        D(1_500_000_000),
        D(130_000_000_000),
        D(999_999_999_999_999),
        D("123456789012.345"),
        *(D(n) * 37 for n in range(0, 10**6, 49_999)),
        *(D(n) / 8 for n in range(1, 40)),
    ],
)
def test_format_parse_round_trip(value: Decimal) -> None:
    assert parse_number(format_number(value)) == value


@pytest.mark.parametrize(
    ("value", "unit", "expected"),
    [
        (D(130_000_000_000), None, "130 tỷ"),
        (130e9, "đồng", "130 tỷ đồng"),
        (130_000_000_000, "đồng", "130 tỷ đồng"),
        (D(1_500_000_000), None, "1,5 tỷ"),
        (D(1_000_000_000), None, "1 tỷ"),
        (D(1_000_000_000_000), None, "1.000 tỷ"),
        (D(1_550_000_000), None, "1.550 triệu"),
        (D(1_234_567_890), None, "1.234.567.890"),
        (D(5_000_000), None, "5 triệu"),
        (D(5_000_000), "đồng", "5 triệu đồng"),
        (D(2_500_000), None, "2,5 triệu"),
        (D(999_900_000), None, "999,9 triệu"),
        (D(2_550_000), None, "2.550.000"),
        (D(1_000_001), None, "1.000.001"),
        (D(999_999), None, "999.999"),
        (D(200_000), "đồng", "200.000 đồng"),
        (1061, "hộ", "1.061 hộ"),
        (D("2.5"), None, "2,5"),
        (0, None, "0"),
        (D(-5_000_000), None, "-5 triệu"),
    ],
)
def test_format_amount(value: Decimal | int | float, unit: str | None, expected: str) -> None:
    assert format_amount(value, unit) == expected


@pytest.mark.parametrize(
    "value",
    [D(5_000_000), D(2_500_000), D(1_500_000_000), D(130_000_000_000), D(1061), D(2_550_000)],
)
def test_format_amount_round_trip(value: Decimal) -> None:
    assert parse_number(format_amount(value, "đồng")) == value


# --- dates ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("19/10/2023", date(2023, 10, 19)),
        ("19-10-2023", date(2023, 10, 19)),
        ("19.10.2023", date(2023, 10, 19)),
        ("1/2/2024", date(2024, 2, 1)),
        ("01/02/2024", date(2024, 2, 1)),
        ("19 / 10 / 2023", date(2023, 10, 19)),
        ("  19/10/2023  ", date(2023, 10, 19)),
        ("29/02/2024", date(2024, 2, 29)),
        ("29/02/2000", date(2000, 2, 29)),
        ("01/01/2000", date(2000, 1, 1)),
        ("31/12/2100", date(2100, 12, 31)),
    ],
)
def test_parse_date_accepts(raw: str, expected: date) -> None:
    assert parse_date(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "hôm nay",
        "19/10/23",
        "2023-10-19",
        "2023/10/19",
        "19/10-2023",
        "19 10 2023",
        "19/10",
        "19/10/2023/1",
        "019/10/2023",
        "19/10/02023",
        "19/10/２０２３",
    ],
)
def test_parse_date_refuses(raw: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_date(raw)
    assert_refused(exc, "error-date")


@pytest.mark.parametrize(
    ("raw", "key", "params"),
    [
        ("31/02/2024", "error-date-day", {"day": 31, "month": 2, "year": 2024, "last": 29}),
        ("29/02/2023", "error-date-day", {"day": 29, "month": 2, "year": 2023, "last": 28}),
        ("29/02/2100", "error-date-day", {"day": 29, "month": 2, "year": 2100, "last": 28}),
        ("32/01/2024", "error-date-day", {"day": 32, "month": 1, "year": 2024, "last": 31}),
        ("00/01/2024", "error-date-day", {"day": 0, "month": 1, "year": 2024, "last": 31}),
        ("15/13/2024", "error-date-month", {"month": 13}),
        ("15/00/2024", "error-date-month", {"month": 0}),
        ("31/12/1999", "error-date-year", {"year": 1999}),
        ("01/01/2101", "error-date-year", {"year": 2101}),
    ],
)
def test_parse_date_says_why_a_well_written_date_is_impossible(
    raw: str, key: str, params: dict[str, object]
) -> None:
    with pytest.raises(InputError) as exc:
        parse_date(raw)
    assert_refused(exc, key, **params)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(date(2023, 10, 19), "19/10/2023"), (date(2024, 2, 1), "01/02/2024")],
)
def test_format_date(value: date, expected: str) -> None:
    assert format_date(value) == expected
    assert parse_date(expected) == value


HCM = ZoneInfo("Asia/Ho_Chi_Minh")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (datetime(2023, 10, 19, 1, 5, tzinfo=UTC), "19/10/2023 08:05"),
        (datetime(2023, 10, 18, 20, 30, tzinfo=UTC), "19/10/2023 03:30"),
        (datetime(2023, 10, 19, 8, 5, tzinfo=HCM), "19/10/2023 08:05"),
        (datetime(2023, 10, 19, 3, 5, tzinfo=timezone(timedelta(hours=2))), "19/10/2023 08:05"),
    ],
)
def test_format_datetime(value: datetime, expected: str) -> None:
    assert format_datetime(value, HCM) == expected


def test_format_datetime_refuses_naive() -> None:
    with pytest.raises(ValueError):
        format_datetime(datetime(2023, 10, 19, 8, 5), HCM)


# --- phones -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("0912345678", "0912345678"),
        ("0912 345 678", "0912345678"),
        ("0912.345.678", "0912345678"),
        ("0912-345-678", "0912345678"),
        ("(091) 234-5678", "0912345678"),
        ("+84912345678", "0912345678"),
        ("+84 912 345 678", "0912345678"),
        ("+84 (0) 912 345 678", "0912345678"),
        ("84912345678", "0912345678"),
        ("0084 912 345 678", "0912345678"),
        ("  0356.789.012  ", "0356789012"),
        ("(024) 3825 1234", "02438251234"),
    ],
)
def test_parse_phone_accepts(raw: str, expected: str) -> None:
    assert parse_phone(raw) == expected


@pytest.mark.parametrize(
    ("stored", "shown"),
    [
        ("0912345678", "0912 345 678"),
        ("02438251234", "024 3825 1234"),
        ("12345", "12345"),  # an imported oddity, as it is
    ],
)
def test_a_phone_is_shown_grouped(stored: str, shown: str) -> None:
    assert format_phone(stored) == shown


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "abc",
        "091234567",
        "09123456789",
        "912345678",
        "+8491234567",
        "+849123456789",
        "0012345678",
        "0912 345 67a",
        "0912/345/678",
        "+1 912 345 678",
        "０９１２３４５６７８",
        "0212345678",
        "0912345678 🎉",
    ],
)
def test_parse_phone_refuses(raw: str) -> None:
    with pytest.raises(InputError) as exc:
        parse_phone(raw)
    assert_refused(exc, "error-phone")
