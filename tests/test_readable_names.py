"""Names other people read (a person's, a collective's, a unit's): stored as NFC, and refused,
each with its own reason, when nobody could read them."""

from __future__ import annotations

import unicodedata

import pytest

from excel.units_import import UnitRow, validate_unit_rows
from handlers.forms import engine
from handlers.forms.spec import FieldSpec, FormEnv
from language import vn
from language.texts import Texts
from language.vietnamese import InputError, readable_name

REAL_NAMES = [
    "Nguyễn Thị Ánh Tuyết",
    "Đặng Văn Ơn",
    "Chi bộ Khu phố 3",
    "Lê Thị Hồng-Nhung",
    "H'Hen Niê",
    "Y Moan Ênuôl",
    "Đoàn TNCS Hồ Chí Minh",
    "Trần Ngọc Ệ",
    "Nguyễn Văn Nhất",
]


@pytest.mark.parametrize("name", REAL_NAMES)
def test_real_names_pass_as_typed_and_decomposed(name: str) -> None:
    assert readable_name(name) == name
    decomposed = unicodedata.normalize("NFD", name)
    assert decomposed != name or name.isascii()
    stored = readable_name(decomposed)
    assert stored == name and unicodedata.is_normalized("NFC", stored)
    # And through the person's and the unit's answer in the chat.
    assert vn.clean_name(decomposed) == name
    assert vn.clean_text(readable_name(decomposed), max_length=200) == name


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("\u200bNguyễn Văn An\u200b", "Nguyễn Văn An"),
        ("\ufeffĐặng Văn Ơn", "Đặng Văn Ơn"),
        ("Lê Thị Hoa\u3164", "Lê Thị Hoa"),
        ("\u2060 Chi bộ Khu phố 3 \u200d", "Chi bộ Khu phố 3"),
        ("\u115f\u1160Y Moan Ênuôl", "Y Moan Ênuôl"),
    ],
)
def test_invisible_characters_at_the_edges_are_removed(raw: str, stored: str) -> None:
    assert readable_name(raw) == stored


def refusal(raw: str) -> InputError:
    with pytest.raises(InputError) as caught:
        readable_name(raw)
    return caught.value


@pytest.mark.parametrize(
    ("raw", "key"),
    [
        # Invisible fillers and format characters inside a name.
        ("Nguyễn\u200bVăn An", "error-name-invisible"),
        ("Nguyễn\u200cVăn", "error-name-invisible"),
        ("Lê\u200dHoa", "error-name-invisible"),
        ("Lê\u2060Hoa", "error-name-invisible"),
        ("Lê\ufeffHoa", "error-name-invisible"),
        ("Lê \u3164 Hoa", "error-name-invisible"),
        ("Lê\u115fHoa", "error-name-invisible"),
        ("Lê\u1160Hoa", "error-name-invisible"),
        ("Lê\uffa0Hoa", "error-name-invisible"),
        ("Lê\u00adHoa", "error-name-invisible"),
        ("Lê\u034fHoa", "error-name-invisible"),
        ("Lê\u180eHoa", "error-name-invisible"),
        ("Lê\u2800Hoa", "error-name-invisible"),
        # Nothing a person could read.
        ("\u3164\u3164", "error-empty"),
        ("\u200b\u200b\u200b", "error-empty"),
        ("   ", "error-empty"),
        ("123", "error-name-no-letter"),
        ("- . -", "error-name-no-letter"),
        ("\u0301\u0301", "error-name-no-letter"),
        # Stacked accents: more than two combining marks in a row.
        ("A" + "\u0301" * 100 + "nh", "error-name-marks"),
        # NFC composes the first marks a letter has a precomposed form for; three stay here.
        ("Ho\u0300\u0301\u0303\u0309a", "error-name-marks"),
        ("e\u0302\u0323\u0301\u0300\u0303", "error-name-marks"),
        # Greek or Cyrillic look-alikes inside a Latin word.
        ("Nguy\u0435n Văn An", "error-name-scripts"),  # Cyrillic е
        ("\u0410nh", "error-name-scripts"),  # Cyrillic А
        ("Chi b\u03bf Khu phố 3", "error-name-scripts"),  # Greek ο
        ("\u0397ồng", "error-name-scripts"),  # Greek Η
    ],
)
def test_unreadable_names_are_refused(raw: str, key: str) -> None:
    assert refusal(raw).key == key


def test_the_look_alike_word_is_named() -> None:
    assert refusal("Nguy\u0435n Văn An").params == {"word": "Nguy\u0435n"}


@pytest.mark.parametrize(
    "name",
    [
        "Иван Петров",  # a whole word in one script is a name, not a disguise
        "Νίκος Παπαδόπουλος",
        "Ivan Петров",
        "Chi bộ 3 (Khu A)",
        "Lê Thị Hoa\u0300",  # one mark NFC cannot compose is fine
    ],
)
def test_other_readable_names_pass(name: str) -> None:
    assert readable_name(name) == unicodedata.normalize("NFC", name)


@pytest.mark.parametrize("reason", ["invisible", "no-letter", "marks", "scripts"])
def test_each_refusal_is_worded(reason: str) -> None:
    for language in ("vi", "en"):
        texts = Texts(language)
        for key in (f"error-name-{reason}", f"import-name-{reason}"):
            assert texts.has(key), (language, key)
            assert "{" not in texts(key, word="Nguy\u0435n", max=2)


def test_a_unit_name_answer_uses_the_check() -> None:
    spec = FieldSpec("name", "text", "label-unit-name", "ask-unit-name", readable=True)
    state = engine.new_state()
    with pytest.raises(InputError) as caught:
        engine.parse_value(spec, "Chi\u3164bộ", state, FormEnv())
    assert caught.value.key == "error-name-invisible"
    nfd = unicodedata.normalize("NFD", "Chi bộ Khu phố 3")
    assert engine.parse_value(spec, nfd, state, FormEnv()) == "Chi bộ Khu phố 3"
    # Plain texts (a model's approach, say) keep their own, looser rules.
    plain = FieldSpec("approach", "text", "label-approach", "ask-approach")
    assert engine.parse_value(plain, "Bước 1: ổn định", state, FormEnv()) == "Bước 1: ổn định"


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("Chi\u3164bộ", "import-name-invisible"),
        ("\u200bChi bộ", "import-name-control"),
        ("A" + "\u0301" * 5, "import-name-marks"),
        ("Chi b\u03bf", "import-name-scripts"),
        ("123", "import-name-no-letter"),
    ],
)
def test_the_units_import_runs_the_same_check(name: str, key: str) -> None:
    problems = validate_unit_rows([UnitRow(2, "A", name, None)], set())
    assert [(p.row, p.key) for p in problems] == [(2, key)]
