"""How a command is shown (log lines, summary, JSON report): masked word by word, then
quoted where a POSIX shell needs it (tasker/engine/command.py, Prepared.shown)."""

from __future__ import annotations

import shlex
from typing import List

from hypothesis import given, strategies as st

from tasker.engine.command import Prepared
from tasker.exec.base import SSH
from tasker.report.masking import Masker


def shown(argv: List[str], masker: Masker = Masker(), transport: str = "process") -> str:
    prep = Prepared("web1", "local", "local", tuple(argv), 10.0, transport)
    return prep.shown(masker.mask)


@given(st.lists(st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"),
                        max_size=8), min_size=1, max_size=5))
def test_a_shell_reads_the_shown_words_back(argv: List[str]) -> None:
    assert shlex.split(shown(argv)) == argv


def test_only_words_that_need_quoting_change() -> None:
    assert shown(["echo", "a", "b=c", "x/y.z"]) == "echo a b=c x/y.z"
    assert shown(["sh", "-c", "echo boom >&2; exit 3"]) == "sh -c 'echo boom >&2; exit 3'"
    assert shown(["echo", ""]) == "echo ''"


def test_secrets_are_masked_before_quoting() -> None:
    """A quote inside a secret would split it if quoting came first."""
    masker = Masker.from_globals({"SECRET_PASSWORD": "it's me"}, ())
    assert shown(["login", "--pw=it's me"], masker) == "login '--pw=****'"
    across = shown(["login", "it's", "me"], masker)  # (a secret split into two words)
    assert "it" not in across.replace("login", "") and "****" in across


def test_ssh_commands_name_the_host() -> None:
    assert shown(["ls", "a b"], transport=SSH) == "ssh web1 ls 'a b'"
