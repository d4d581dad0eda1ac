"""Secret names (SPEC II.9.5) and masking by value (SPEC I.4)."""

from __future__ import annotations

import pytest

from tasker.report.masking import (
    MASK,
    SECRET_NAME,
    Masker,
    is_secret_name,
    split_secret_vars,
)


@pytest.mark.parametrize(
    "name",
    [
        "SECRET_X", "secret_x", "MASK_A", "HIDE_ME", "PASSWORD_DB", "TOKEN_API",
        "DB_PASSWORD", "API_TOKEN", "APP_SECRET", "SSH_KEY", "ssh_key", "Db_Password",
    ],
)
def test_secret_names(name):
    assert SECRET_NAME.match(name)


@pytest.mark.parametrize(
    "name",
    ["SECRETX", "MY_SECRET_VALUE", "KEYS", "PASSWORD", "TOKEN", "KEY", "HOSTNAME", "MONKEY"],
)
def test_ordinary_names(name):
    assert not SECRET_NAME.match(name)


def test_extra_names_and_secret_vars():
    assert is_secret_name("DB_PASS", ["DB_PASS"])
    assert not is_secret_name("DB_PASS")
    assert split_secret_vars(" A, B ,,C ") == ("A", "B", "C")


def test_from_globals_picks_secret_names_and_listed_names():
    globals_ = {
        "DB_PASSWORD": "pw1",
        "HOST": "example.org",
        "CUSTOM": "c-value",
        "EMPTY_TOKEN": "",
    }
    masker = Masker.from_globals(globals_, extra_names=["CUSTOM"])
    assert set(masker.values) == {"pw1", "c-value"}
    assert masker.mask("host example.org pw1 c-value") == f"host example.org {MASK} {MASK}"


def test_values_are_masked_inside_outputs():
    masker = Masker(("hunter2",))
    assert masker.mask("login ok\npassword=hunter2;next") == f"login ok\npassword={MASK};next"
    assert masker.mask("xhunter2hunter2x") == f"x{MASK}{MASK}x"


def test_longest_value_first():
    masker = Masker(("abc", "abcdef"))
    assert masker.values == ("abcdef", "abc")
    assert masker.mask("abcdef abc") == f"{MASK} {MASK}"
    # Not "****def": the longer secret must not leak its tail.
    assert "def" not in masker.mask("abcdef")


def test_regex_characters_in_values_are_literal():
    masker = Masker(("a.b*c", "(x|y)"))
    assert masker.mask("a.b*c axbbc (x|y) x") == f"{MASK} axbbc {MASK} x"


def test_empty_values_are_ignored():
    masker = Masker(("", ""))
    assert not masker
    assert masker.mask("text") == "text"


def test_no_secrets_fast_path_returns_the_same_object():
    text = "some output " * 1000
    assert Masker().mask(text) is text
    assert Masker(("absent",)).mask(text) is text


def test_masker_is_immutable_and_comparable():
    masker = Masker(("b", "a"))
    with pytest.raises(AttributeError):
        masker.values = ()  # type: ignore[misc]
    assert masker == Masker(("a", "b"))


def test_mask_data_walks_structures_but_keeps_keys():
    masker = Masker(("pw",))
    data = {"pw": ["a pw", 1, None, {"k": "pw"}], "n": 3}
    assert masker.mask_data(data) == {"pw": [f"a {MASK}", 1, None, {"k": MASK}], "n": 3}
    assert Masker().mask_data(data) is data


def test_secret_vars_lists_names_and_is_not_itself_a_secret():
    masker = Masker.from_globals({"SECRET_VARS": "MYPASS", "MYPASS": "pa55"},
                                 split_secret_vars("MYPASS"))
    assert masker.mask("Global variable MYPASS=pa55") == "Global variable MYPASS=****"
    assert not is_secret_name("SECRET_VARS")
