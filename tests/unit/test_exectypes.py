"""Exec types as data: argv building, aliases, argument splitting, env expansion."""

from __future__ import annotations

import shlex

import pytest
from hypothesis import given, settings, strategies as st

from tasker.exec.exectypes import (
    LOCAL,
    ArgumentsError,
    ExecType,
    build_argv,
    builtin_config,
    split_arguments,
)
from tasker.syntax.placeholders import expand_env_names


def expand_env(text: str, environ: dict) -> str:
    return expand_env_names(text, environ)[0]

LINUX = builtin_config("linux")


def argv_for(exec_name: str, command: str, arguments: str, hostname: str = "db1") -> tuple:
    xtype = LINUX.get(exec_name)
    assert xtype is not None, exec_name
    return build_argv(xtype, hostname, command, arguments)


# --- argv per type ----------------------------------------------------------------------

@pytest.mark.parametrize(
    "exec_name, expected",
    [
        ("local", ("grep", "-c", "two words", "f.txt")),
        ("shell", ("/bin/bash", "-c", 'grep -c "two words" f.txt')),
        ("pbrun", ("pbrun", "-n", "-h", "db1", "grep", "-c", "two words", "f.txt")),
        ("p7s", ("p7s", "db1", "grep", "-c", "two words", "f.txt")),
        ("wwrs", ("wwrs_clir", "db1", "grep", "-c", "two words", "f.txt")),
    ],
)
def test_argv_of_every_builtin_type(exec_name: str, expected: tuple) -> None:
    assert argv_for(exec_name, "grep", '-c "two words" f.txt') == expected


@pytest.mark.parametrize(
    "exec_name, expected",
    [
        ("local", ("uptime",)),
        ("shell", ("/bin/bash", "-c", "uptime")),
        ("pbrun", ("pbrun", "-n", "-h", "db1", "uptime")),
        ("p7s", ("p7s", "db1", "uptime")),
        ("wwrs", ("wwrs_clir", "db1", "uptime")),
    ],
)
def test_argv_without_arguments(exec_name: str, expected: tuple) -> None:
    assert argv_for(exec_name, "uptime", "") == expected


@pytest.mark.parametrize("alias", ["bash", "sh", "/bin/bash", "/bin/sh", "cmd", "BASH", " Sh "])
def test_shell_aliases(alias: str) -> None:
    assert LINUX.canonical(alias) == "shell"
    assert argv_for(alias, "ls", "-l | wc -l") == ("/bin/bash", "-c", "ls -l | wc -l")


@pytest.mark.parametrize("name", ["PBRUN", "PbRun", " pbrun ", "pbrun\t"])
def test_exec_names_are_case_insensitive(name: str) -> None:
    assert LINUX.canonical(name) == "pbrun"


def test_unconfigured_type_is_none() -> None:
    assert LINUX.canonical("ssh2") is None and LINUX.get("ssh2") is None


def test_spec_example_with_environment_expansion() -> None:
    arguments = expand_env('-c "two words" $HOME/f.txt', {"HOME": "/home/u"})
    assert split_arguments(arguments) == ["-c", "two words", "/home/u/f.txt"]
    assert argv_for("pbrun", "grep", arguments) == (
        "pbrun", "-n", "-h", "db1", "grep", "-c", "two words", "/home/u/f.txt",
    )


def test_local_passes_shell_syntax_as_literal_words() -> None:
    assert build_argv(LOCAL, "", "echo", "a | b > c $(x) && d") == (
        "echo", "a", "|", "b", ">", "c", "$(x)", "&&", "d",
    )


def test_placeholders_are_expanded_in_one_pass() -> None:
    xtype = ExecType("t", "tool", ("{binary}", "--on={hostname}", "{command}", "{arguments_split}"))
    assert build_argv(xtype, "{command}", "{arguments}", "{binary}") == (
        "tool", "--on={command}", "{arguments}", "{binary}",
    )


def test_whole_arguments_placeholder_inside_an_element() -> None:
    template = ("{binary}", "{hostname}", "--", "{command} {arguments}", "x{arguments}y")
    xtype = ExecType("t", "ssh", template)
    assert build_argv(xtype, "h", "ls", "-l 'a b'") == (
        "ssh", "h", "--", "ls -l 'a b'", "x-l 'a b'y",
    )
    assert build_argv(xtype, "h", "ls", "") == ("ssh", "h", "--", "ls", "xy")


def test_darwin_has_only_local() -> None:
    darwin = builtin_config("darwin")
    assert set(darwin.types) == {"local", "ssh"}
    assert darwin.default_exec_type == "local" and darwin.canonical("shell") is None


def test_builtin_defaults() -> None:
    assert set(LINUX.types) == {"local", "ssh", "shell", "pbrun", "p7s", "wwrs"}
    assert (LINUX.default_exec_type, LINUX.default_timeout) == ("pbrun", 300)
    assert LINUX.default_validation_timeout == 10 and LINUX.source is None
    tests = {name: xtype.validation for name, xtype in LINUX.types.items()}
    assert tests["local"] is None
    assert (tests["shell"].command, tests["shell"].arguments) == ("echo", "OK")
    assert tests["pbrun"].command == tests["p7s"].command == "pbtest"
    assert (tests["wwrs"].command, tests["wwrs"].timeout) == ("wwrs_test", 15)
    assert all(t.expected_exit == 0 and t.expected_output == "OK" for t in tests.values() if t)


# --- environment expansion --------------------------------------------------------------

@pytest.mark.parametrize(
    "text, expected",
    [
        ("$HOME/f", "/home/u/f"),
        ("${HOME}x", "/home/ux"),
        ("$UNSET and ${UNSET}", "$UNSET and ${UNSET}"),
        ("'$HOME'", "'/home/u'"),  # quotes do not protect, as in the original
        ("cost $5 or $", "cost $5 or $"),
        ("${}", "${}"),
        ("$HOME_DIR", "$HOME_DIR"),
        ("no dollars", "no dollars"),
    ],
)
def test_expand_env(text: str, expected: str) -> None:
    assert expand_env(text, {"HOME": "/home/u"}) == expected


# --- splitting --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, words",
    [
        ("", []),
        ("   ", []),
        ("a  b\tc\nd", ["a", "b", "c", "d"]),
        ('-c "two words"', ["-c", "two words"]),
        ("'single # quoted' #not-a-comment", ["single # quoted", "#not-a-comment"]),
        (r"a\ b c", ["a b", "c"]),
        (r'"a \"q\" b"', ['a "q" b']),
        ("''", [""]),
        ("x\u00a0y", ["x\u00a0y"]),  # only blanks separate words, as in shlex
    ],
)
def test_split_arguments(text: str, words: list) -> None:
    assert split_arguments(text) == words


@pytest.mark.parametrize(
    "text, column, kind",
    [
        ('grep "two words', 6, "double"),
        ("it's", 3, "single"),
        ("\"ok\" 'fine' \"oops", 13, "double"),
        ('"it\'s" \'x', 8, "single"),
        ('"a \\" b', 1, "double"),
    ],
)
def test_unbalanced_quote_reports_column(text: str, column: int, kind: str) -> None:
    with pytest.raises(ArgumentsError) as info:
        split_arguments(text)
    assert info.value.column == column
    assert f"{kind} quote at column {column}" in str(info.value)


def test_trailing_backslash_reports_column() -> None:
    with pytest.raises(ArgumentsError) as info:
        split_arguments("a b\\")
    assert info.value.column == 4 and "backslash" in info.value.message


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="ab \t\"'\\#$\n", max_size=14))
def test_split_agrees_with_shlex(text: str) -> None:
    try:
        expected = shlex.split(text, posix=True)
    except ValueError:
        with pytest.raises(ArgumentsError) as info:
            split_arguments(text)
        assert 1 <= info.value.column <= len(text)
        assert text[info.value.column - 1] in "\"'\\"
    else:
        assert split_arguments(text) == expected
