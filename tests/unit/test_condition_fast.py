"""The fast path agrees with the grammar wherever it answers, columns included."""

from hypothesis import given, settings
from hypothesis import strategies as st

from tasker.syntax.condition import _template, parse_condition
from tasker.syntax.condition_lark import _parser
from tasker.syntax.condition_ast import walk
from tasker.syntax.condition_fast import quick_parse

PIECES = ["exit_0", "&", "|", "&&", "exit_12", "EXIT_-3", "exit_not_0", "success", "True", "false", "stdout",
          "StdErr", "exit", "exit_code", "@3_exit@", "@12_STDOUT@", "@0_success@", "~", "!~",
          "=", "!=", "<=", ">=", "<", ">", "==", "ok", "a b", "x=y", "@1_stdout@", "(", ")",
          "&", "|", '"', "'", " ", "  ", "\t", "!", "42", "-1", "1.5", "stdout_count", "\xa0",
          "#", ",", "min_success", "production", "web-1.example", "/opt", "exitx", "stdoutx",
          "contains:", "not_contains:", "stdout:", "max_failed", "all_success", "truex", "@ENV@",
          "a.b", "x_y"]


def same(a, b):
    """Equal ASTs with equal columns on every node."""
    return a == b and [getattr(n, "column", None) for n in walk(a)] == \
        [getattr(n, "column", None) for n in walk(b)]


@settings(max_examples=3000)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=9))
def test_fast_path_matches_the_grammar(pieces):
    text = "".join(pieces)
    quick = quick_parse(text, _template)
    if quick is None:
        return
    try:
        slow = _parser().parse(text)
    except Exception as exc:  # the grammar rejects it: the fast path must not accept it
        raise AssertionError(f"fast path accepted {text!r}, grammar said {exc}") from None
    assert same(quick, slow), (text, quick, slow)


def test_common_shapes_take_the_fast_path():
    for text in ("exit_0", " success ", "stdout~ready 1", "@41_exit@=0", "exit!=0",
                 "stderr!~", "@2_stdout@~ok", "production=production", "web 1 != web 2",
                 "/opt/app~opt"):
        assert quick_parse(text, _template) is not None, text
    assert parse_condition("@41_exit@=0") == _parser().parse("@41_exit@=0")


@settings(max_examples=3000)
@given(st.lists(st.sampled_from(PIECES), min_size=1, max_size=9))
def test_recognition_says_exactly_when_the_fast_path_builds(pieces):
    """What the loader leaves unparsed must parse later, to the fast path's tree."""
    from tasker.syntax.condition import parse_block_condition, recognizes

    text = "".join(pieces)
    quick = quick_parse(text, _template)
    assert recognizes(text) == (quick is not None and bool(text.strip()))
    if recognizes(text):
        assert same(parse_condition(text), quick)
        assert same(parse_block_condition(text), quick)


def test_trees_of_recognized_conditions_are_built_when_first_read():
    from tasker.syntax.taskfile import LoadOptions, build_task_file

    text = "task=0\nhostname=h\ncommand=c\ncondition=@9_exit@=0\nsuccess=exit_0|(stdout~x)\n" \
           "task=9\nreturn=0\n"
    task = build_task_file("t.txt", text, LoadOptions()).tasks[0]
    entries = task.conditions._entries
    assert type(entries["condition"]).__name__ == "_Pending"  # recognized: not built yet
    assert type(entries["success"]).__name__ != "_Pending"  # parsed while loading
    assert task.conditions["condition"] == parse_condition("@9_exit@=0")
    assert type(entries["condition"]).__name__ != "_Pending"
    assert list(task.conditions) == ["condition", "success"]


@settings(max_examples=3000)
@given(st.lists(st.sampled_from(PIECES + ["@41_exit@", "@7_StdErr@", "@9_exit_code@", "=0",
                                          "~ok", "x\x1cy", "é", "{}", "*"]),
                min_size=1, max_size=6))
def test_the_common_reference_shortcut_accepts_only_what_the_fast_path_reads(pieces):
    from tasker.syntax.condition import _COMMON_REF_ATOM

    text = "".join(pieces)
    if _COMMON_REF_ATOM.fullmatch(text):
        assert quick_parse(text, _template) is not None, text


def test_the_common_reference_shortcut_takes_the_usual_forms():
    from tasker.syntax.condition import _COMMON_REF_ATOM

    for text in ("@41_exit@=0", " @3_stdout@ ~ ready now ", "@2_EXIT_CODE@!=3", "@1_exit@="):
        assert _COMMON_REF_ATOM.fullmatch(text), text
    for text in ("@1_exit@=a|b", "@1_exit@=(x", "@1_exit@='q'", "@1_exitx@=0", "@1_exit@=é"):
        assert not _COMMON_REF_ATOM.fullmatch(text), text
