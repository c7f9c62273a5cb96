import re
import unicodedata
from pathlib import Path

import pytest

from language.texts import DEFAULT_LANGUAGE, Texts, languages, load_catalog, placeholders

ROOT = Path(__file__).resolve().parent.parent
SOURCE_DIRS = ("reports", "handlers", "bot")

# Keys passed straight to the text helpers: ctx.t("key"), ctx.say("key"), label("key").
# The quote must follow the parenthesis directly, so f-strings (t(f"role-{x}")) are ignored.
CALL_KEY = re.compile(r"\b(?:t|say|label)\(\s*\"([a-z][a-z0-9_]*(?:-[a-z0-9_]+)+)\"")
# Label/prompt keys given positionally to FieldSpec, FormSpec and friends, anywhere in the source.
# The lookbehind skips f-strings and other prefixed literals.
SPEC_KEY = re.compile(r"(?<![\w\"])\"((?:label|ask|form|button|menu)-[a-z0-9-]+)\"")


def reference() -> dict[str, str]:
    return load_catalog(DEFAULT_LANGUAGE)


def keys_used_by_code() -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for directory in SOURCE_DIRS:
        for path in sorted((ROOT / directory).glob("**/*.py")):
            source = path.read_text(encoding="utf-8")
            where = str(path.relative_to(ROOT))
            for pattern in (CALL_KEY, SPEC_KEY):
                for key in pattern.findall(source):
                    found.setdefault(key, set()).add(where)
    return found


def test_languages_include_vietnamese_and_english() -> None:
    assert {"vi", "en"} <= set(languages())


@pytest.mark.parametrize("language", languages())
def test_same_keys_as_vietnamese(language: str) -> None:
    catalog = load_catalog(language)
    missing = sorted(set(reference()) - set(catalog))
    extra = sorted(set(catalog) - set(reference()))
    assert not missing, f"{language}: missing keys {missing}"
    assert not extra, f"{language}: keys not in vi {extra}"


@pytest.mark.parametrize("language", languages())
def test_same_placeholders_as_vietnamese(language: str) -> None:
    catalog = load_catalog(language)
    differing = {
        key: (placeholders(catalog[key]), placeholders(template))
        for key, template in reference().items()
        if key in catalog and placeholders(catalog[key]) != placeholders(template)
    }
    assert not differing, f"{language}: placeholders differ (got, expected) {differing}"


@pytest.mark.parametrize("language", languages())
def test_no_empty_values(language: str) -> None:
    catalog = load_catalog(language)
    empty = sorted(
        key for key, value in catalog.items() if not isinstance(value, str) or not value.strip()
    )
    assert not empty, f"{language}: empty or non-text values {empty}"


def test_english_lookup_formats_placeholders() -> None:
    assert "X" in Texts("en")("join-sent", unit="X")


def test_vietnamese_texts_are_nfc() -> None:
    not_nfc = sorted(
        key for key, value in reference().items() if not unicodedata.is_normalized("NFC", value)
    )
    assert not not_nfc, f"vi: values not NFC-normalised {not_nfc}"


def test_keys_used_by_code_exist() -> None:
    used = keys_used_by_code()
    assert used, "the source scan found no catalog keys at all"
    missing = {key: sorted(files) for key, files in sorted(used.items()) if key not in reference()}
    assert not missing, f"keys used in code but missing from vi.toml: {missing}"
