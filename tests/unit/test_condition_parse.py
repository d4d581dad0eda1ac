"""Parsing conditions: valid text -> AST, invalid text -> located ConditionError, round trip."""

from __future__ import annotations

import pytest

from tasker.syntax.condition import (
    And,
    BareOperand,
    BoolLiteral,
    Comparison,
    ConditionError,
    Contains,
    ExitCode,
    ExitNotZero,
    ExitTest,
    LineCount,
    MultiTask,
    Not,
    Or,
    OutputMatch,
    Ref,
    StreamField,
    StreamValue,
    Success,
    Template,
    format_condition,
    parse_block_condition,
    parse_condition,
    placeholders,
    walk,
)


def T(*parts) -> Template:
    """A template from literal strings and Refs."""
    return Template(tuple(parts))


def R(task_id: int, field: str) -> Ref:
    return Ref(task_id, field)


def out(pattern=None, stream="stdout", negated=False) -> OutputMatch:
    return OutputMatch(stream, None if pattern is None else T(*pattern), negated)


def cmp(left, op, *right) -> Comparison:
    return Comparison(left, op, T(*right))


STDOUT = StreamValue("stdout")

VALID = [
    # SPEC II.3.2 "Examples"
    ("exit_0&stdout~ready", And((ExitTest(0), out(["ready"])))),
    ("exit_0|exit_3", Or((ExitTest(0), ExitTest(3)))),
    ("(stdout>50)&(stdout<100)", And((cmp(STDOUT, ">", "50"), cmp(STDOUT, "<", "100")))),
    ("@0_exit@!=0", cmp(T(R(0, "exit")), "!=", "0")),
    ("@ENV@=production&@2_success@=true",
     And((cmp(T("@ENV@"), "=", "production"), cmp(T(R(2, "success")), "=", "true")))),
    ('stdout~"rows = 0"', out(["rows = 0"])),
    # a quoted part with more after it: outer quotes off when it ends in the same quote
    # (HEAD strips them), else literal text, quotes included
    ('stdout~"status":"ok"', out(['status":"ok'])),
    ('stdout~"a"b', out(['"a"b'])),
    ("stdout!~'x' and 'y'", out(["x' and 'y"], negated=True)),
    ('@0_stdout@~"k":"v"', cmp(T(R(0, "stdout")), "~", 'k":"v')),
    ("stderr!~", out(None, "stderr", True)),
    # I.2: real precedence and nesting, spaces around operators
    ("exit_0&(stdout~ok|stderr~)", And((ExitTest(0), Or((out(["ok"]), out(None, "stderr")))))),
    ("(exit_0) & (stdout~ok)", And((ExitTest(0), out(["ok"])))),
    ("  exit_0  |  exit_1  ", Or((ExitTest(0), ExitTest(1)))),
    ("exit_1|exit_2&exit_3", Or((ExitTest(1), And((ExitTest(2), ExitTest(3)))))),
    ("exit_1&exit_2|exit_3", Or((And((ExitTest(1), ExitTest(2))), ExitTest(3)))),
    ("a@1_exit@=1|exit_2|exit_3", Or((cmp(T("a", R(1, "exit")), "=", "1"), ExitTest(2),
                                      ExitTest(3)))),
    ("exit_1|(exit_2|exit_3)", Or((ExitTest(1), Or((ExitTest(2), ExitTest(3)))))),
    ("((exit_0))", ExitTest(0)),
    ("exit_0&(stdout~ok|(stderr~warn&exit_1))",
     And((ExitTest(0), Or((out(["ok"]), And((out(["warn"], "stderr"), ExitTest(1)))))))),
    ("!exit_0", Not(ExitTest(0))),
    ("!exit_0&exit_1", And((Not(ExitTest(0)), ExitTest(1)))),
    ("!(exit_0|exit_1)", Not(Or((ExitTest(0), ExitTest(1))))),
    ("!!true", Not(Not(BoolLiteral(True)))),
    # atoms
    ("exit_-1", ExitTest(-1)),
    ("exit_255", ExitTest(255)),
    ("EXIT_0", ExitTest(0)),
    ("exit_not_0", ExitNotZero()),
    ("success", Success()),
    ("SUCCESS", Success()),
    ("True", BoolLiteral(True)),
    ("FALSE", BoolLiteral(False)),
    ("stdout~", out(None)),
    ("stdout!~", out(None, negated=True)),
    ('stdout~""', out(None)),
    ("StdOut~Ready", out(["Ready"])),
    ("stderr!~error", out(["error"], "stderr", True)),
    ("stdout~a=b", out(["a=b"])),
    ("stdout ~ ok", out(["ok"])),
    ('stdout~"a&b|c (d"', out(["a&b|c (d"])),
    ("stdout~'it\\'s'", out(["it's"])),
    ('stdout~"say \\"hi\\""', out(['say "hi"'])),
    ('stdout~" padded "', out([" padded "])),
    ('stdout~"Test 1 PASSED', out(["Test 1 PASSED"])),  # lone quote tolerated
    ("stdout~foo (bar)", out(["foo (bar)"])),
    ("stdout~((a)(b (c)))", out(["((a)(b (c)))"])),
    ("(stdout~foo (bar))", out(["foo (bar)"])),
    ('stdout~"@0_stdout@ done"', out([R(0, "stdout"), " done"])),
    ("stdout_count=3", LineCount("stdout", "=", 3)),
    ("stderr_count<2", LineCount("stderr", "<", 2)),
    ("STDOUT_count>=1", LineCount("stdout", ">=", 1)),
    ("stdout_count!=0", LineCount("stdout", "!=", 0)),
    ("contains:foo", Contains(T("foo"))),
    ("not_contains:bar baz", Contains(T("bar baz"), True)),
    # comparisons and operands
    ("stdout=Status: OK (100%)", cmp(STDOUT, "=", "Status: OK (100%)")),
    ("stdout=42", cmp(STDOUT, "=", "42")),
    ("stderr!=x", cmp(StreamValue("stderr"), "!=", "x")),
    ("exit=0", cmp(ExitCode(), "=", "0")),
    ("exit_code!=0", cmp(ExitCode(), "!=", "0")),
    ("EXIT<5", cmp(ExitCode(), "<", "5")),
    ("exit>=2", cmp(ExitCode(), ">=", "2")),
    ("exit <= 3", cmp(ExitCode(), "<=", "3")),
    ("exit~1", cmp(ExitCode(), "~", "1")),
    ("stdout:comma,1=b", cmp(StreamField("stdout", "comma", 1), "=", "b")),
    ("stderr:space,0~x", cmp(StreamField("stderr", "space", 0), "~", "x")),
    ("stdout:=,1=x", cmp(StreamField("stdout", "=", 1), "=", "x")),
    ("@0_stdout@-suffix=x", cmp(T(R(0, "stdout"), "-suffix"), "=", "x")),
    ("v@1_exit@=v3", cmp(T("v", R(1, "exit")), "=", "v3")),
    ("@0_STDOUT@=x", cmp(T(R(0, "stdout")), "=", "x")),
    ("@12_exit_code@>=2", cmp(T(R(12, "exit_code")), ">=", "2")),
    ("@3_hostname@=web1", cmp(T(R(3, "hostname")), "=", "web1")),
    ("@0_stdout@=", cmp(T(R(0, "stdout")), "=")),
    ("@0_stdout@=@1_stdout@", cmp(T(R(0, "stdout")), "=", R(1, "stdout"))),
    ("@0_stdout@~'a|b'", cmp(T(R(0, "stdout")), "~", "a|b")),
    ("@0_stdout@!~x", cmp(T(R(0, "stdout")), "!~", "x")),
    ("@1_foo@=x", cmp(T("@1_foo@"), "=", "x")),  # not a result field: literal text
    ("true=1", cmp(T("true"), "=", "1")),
    ("success_rate>2", cmp(T("success_rate"), ">", "2")),
    ("10>5", cmp(T("10"), ">", "5")),  # a global that resolved to a number (C13)
    ("stdout< =5", cmp(STDOUT, "<", "=5")),
    ("my env=prod", cmp(T("my env"), "=", "prod")),
    # commas inside values (and after text that is no test) are text (issue 16)
    ("stdout=Hello, world", cmp(STDOUT, "=", "Hello, world")),
    ("stdout~a,b", out(["a,b"])),
    ("@1_exit@=0,1", cmp(T(R(1, "exit")), "=", "0,1")),
    ("stdout~x, y", out(["x, y"])),
    ("stdout~a,exitcode,stdoutx,successful", out(["a,exitcode,stdoutx,successful"])),
    ("stdout~a,true", out(["a,true"])),
    ('stdout~"ok,exit_0"', out(["ok,exit_0"])),  # quoted text is always text
    ("stdout~(a,exit_0)", out(["(a,exit_0)"])),  # so is a group inside a value
    ("exit=,exit_1", cmp(ExitCode(), "=", ",exit_1")),  # the value starts with the comma
    ("stdout:comma,1=a,x", cmp(StreamField("stdout", "comma", 1), "=", "a,x")),
    ("exit_0,foo=1", cmp(T("exit_0,foo"), "=", "1")),
    # bare placeholders
    ("@0_success@", BareOperand(T(R(0, "success")))),
    ("@OK_COND@", BareOperand(T("@OK_COND@"))),  # unresolved global
    ("(@0_success@)|@1_success@", Or((BareOperand(T(R(0, "success"))),
                                      BareOperand(T(R(1, "success")))))),
]

INVALID = [
    # (text, column, fragment of message or hint)
    ("", 1, "empty condition"),
    ("   ", 1, "empty condition"),
    ("exit_0&", 7, "cannot end with '&'"),
    ("exit_0 | ", 8, "cannot end with '|'"),
    ("&exit_0", 1, "cannot start with '&'"),
    ("|exit_0", 1, "cannot start with '|'"),
    ("(|exit_0)", 2, "cannot start with '|'"),
    ("exit_0&&exit_1", 8, "'&&' is not an operator"),
    ("exit_0||exit_1", 8, "'||' is not an operator"),
    ("exit_0 & | exit_1", 10, "expected a condition"),
    ("(exit_0", 1, "missing ')'"),
    ("((exit_0)", 1, "missing ')'"),
    ("exit_0&(stdout~ok", 8, "missing ')'"),
    ("exit_0)", 7, "')' without '('"),
    ("(exit_0))", 9, "')' without '('"),
    ("()", 1, "empty parentheses"),
    ("exit_0&()", 8, "empty parentheses"),
    ("(exit_0|)", 9, "expected a condition after '|'"),
    ("!", 1, "after '!'"),
    ("exit_0&!", 8, "after '!'"),
    ("exit_abc", 1, "exit codes are integers"),
    ("exit_1.5", 1, "exit codes are integers"),
    ("exit_0&exit_x", 8, "exit codes are integers"),
    ("banana,apple", 1, "instead of ','"),
    # a comma between tests is not an operator (issue 16): reported at the comma
    ("exit_0,stdout~test", 7, "',' is not an operator"),
    ("exit_1,exit_2", 7, "use '&' (AND) or '|' (OR) instead of ','"),
    ("success , failure", 9, "',' is not an operator"),
    ("exit_0,STDERR!~", 7, "',' is not an operator"),
    ("true,stdout_count>2", 5, "',' is not an operator"),
    ("@1_success@,exit_0", 12, "',' is not an operator"),
    ("exit_not_0,@2_exit@=1", 11, "',' is not an operator"),
    ("(exit_0),exit_code!=0", 9, "',' is not an operator"),
    ("exit_0&exit_1,stdout~x|exit_2", 14, "',' is not an operator"),
    ("exit_0,max_failed=1", 7, "',' is not an operator"),
    ("(exit_0),", 9, "',' is not an operator"),
    # ... and a comma in a value once it has started, before a test (issue 16)
    ("stdout~ok,exit_0", 10, "',' is not an operator"),
    ("stdout~x,stderr~y", 9, "use '&' (AND) or '|' (OR) instead of ','"),
    ("@0_exit@=0,exit_0", 11, "',' is not an operator"),
    ("@1_exit@=0,exit_1", 11, "',' is not an operator"),
    ("stdout_count=2,exit_0", 15, "',' is not an operator"),
    ("stdout~a,exit", 9, "',' is not an operator"),
    ("stdout:comma,1=a,stdout", 17, "',' is not an operator"),
    ("stdout~x, exit_0", 9, "',' is not an operator"),
    ("stdout~x ,EXIT_CODE=0", 10, "',' is not an operator"),
    ("stdout~x,@2_success@", 9, "',' is not an operator"),
    ("stdout~x,failure", 9, "',' is not an operator"),
    ('stdout~"a",exit_0', 11, "',' is not an operator"),
    ('stdout~"a"b,exit_0', 12, "',' is not an operator"),
    ("contains:a,stdout_count>1", 11, "',' is not an operator"),
    ("exit_0&stdout!~a b,c,exit_1|exit_2", 21, "',' is not an operator"),
    ("exit_0|a,b", 8, "instead of ','"),
    ("foo", 1, "unrecognised condition 'foo'"),
    ("stdout", 7, "incomplete condition"),
    ("exit", 5, "incomplete condition"),
    ("exit_0 AND exit_1", 1, "'&' for AND"),
    ("NOT exit_0", 1, "'!' for NOT"),
    # word operators before a comparison: not literal text of a longer left operand
    ("exit_0 AND stdout~hello", 8, "'AND' is not an operator"),
    ("NOT stdout~x", 1, "'NOT' is not an operator"),
    ("exit_0 or stdout=x", 8, "'|' for OR"),
    ("@0_stdout@ and=1", 12, "'and' is not an operator"),
    ("exit_0 exit_1", 1, "missing '&' or '|'"),
    ("exit_0(", 7, "missing '&' or '|'"),
    ("stdout~a (b", 10, "quote the value"),
    ("stdout~(((((((deep)))))))", 8, "quote the value"),  # (6 levels at most)
    ("stdout_count>", 14, "whole number"),
    ("stdout=a=b)", 11, "')' without '('"),
    ("min_success=2", 1, "block condition"),
    ("exit_0|all_success", 8, "block condition"),
    ("!" * 101 + "exit_0", 101, "nested deeper"),
]


@pytest.mark.parametrize("text,expected", VALID)
def test_valid(text: str, expected) -> None:
    assert parse_condition(text) == expected


@pytest.mark.parametrize("text,column,fragment", INVALID)
def test_invalid(text: str, column: int, fragment: str) -> None:
    with pytest.raises(ConditionError) as info:
        parse_condition(text)
    err = info.value
    assert err.column == column
    assert fragment in f"{err.message} {err.hint}"


@pytest.mark.parametrize("text", [t for t, _ in VALID])
def test_round_trip(text: str) -> None:
    expr = parse_condition(text)
    assert parse_condition(format_condition(expr)) == expr


@pytest.mark.parametrize("text,printed", [
    ("(exit_0) & (stdout~ok)", "exit_0&stdout~ok"),
    ("exit_1|(exit_2|exit_3)", "exit_1|(exit_2|exit_3)"),
    ("(exit_1&exit_2)|exit_3", "exit_1&exit_2|exit_3"),
    ("!(exit_0&exit_1)", "!(exit_0&exit_1)"),
    ("EXIT_CODE != 0", "exit!=0"),
    ('stdout~"Test 1 PASSED', "stdout~Test 1 PASSED"),
    ('stdout~"a&b"', 'stdout~"a&b"'),
    ("stdout~'say \"hi\"'", 'stdout~say "hi"'),  # quotes only where the lexer needs them
    ("stdout~'\"hi\" there'", 'stdout~"\\"hi\\" there"'),  # (always double quotes)
    ('stdout~"\\"it\'s\\""', 'stdout~"\\"it\'s\\""'),
    ("stdout< =5", 'stdout<"=5"'),
    ('stdout~" x"', 'stdout~" x"'),
    ("not_contains: a b ", "not_contains:a b"),
    ("StdErr_Count > 2", "stderr_count>2"),
    ("@0_Success@", "@0_success@"),
])
def test_canonical_form(text: str, printed: str) -> None:
    assert format_condition(parse_condition(text)) == printed


def test_columns_point_into_the_text() -> None:
    expr = parse_condition("exit_0 & (stdout~@3_stdout@x | stderr~)")
    assert expr.column == 1
    group = expr.items[1]
    match = group.items[0]
    assert (group.column, match.column, match.pattern.column) == (11, 11, 18)
    assert match.pattern.parts[0].column == 18
    assert group.items[1].column == 32


def test_unclosed_quote_is_recorded_for_the_validator() -> None:
    pattern = parse_condition('stdout~"Test 1 PASSED').pattern
    assert pattern.unclosed_quote and pattern.column == 9
    assert not parse_condition('stdout~"Test 1 PASSED"').pattern.unclosed_quote


BLOCK_VALID = [
    ("all_success", MultiTask("all_success")),
    ("ANY_SUCCESS", MultiTask("any_success")),
    ("majority_success", MultiTask("majority_success")),
    ("min_success=2", MultiTask("min_success", 2)),
    ("max_success=0", MultiTask("max_success", 0)),
    ("min_failed=1", MultiTask("min_failed", 1)),
    ("max_failed = 3", MultiTask("max_failed", 3)),
    ("always", MultiTask("always")),
    ("never", MultiTask("never")),
    ("min_success=2&@0_success@=true",
     And((MultiTask("min_success", 2), cmp(T(R(0, "success")), "=", "true")))),
    ("exit_0", ExitTest(0)),  # anything parse_condition accepts
]


@pytest.mark.parametrize("text,expected", BLOCK_VALID)
def test_block_conditions(text: str, expected) -> None:
    expr = parse_block_condition(text)
    assert expr == expected
    assert parse_block_condition(format_condition(expr)) == expr


def test_a_comma_after_a_block_count_is_not_an_operator() -> None:
    with pytest.raises(ConditionError) as info:
        parse_block_condition("min_success=2,exit_0")
    assert info.value.column == 14 and "instead of ','" in info.value.hint


def test_block_condition_needs_equals() -> None:
    with pytest.raises(ConditionError) as info:
        parse_block_condition("min_success>2")
    assert info.value.column == 12 and "min_success=N" in info.value.hint


def test_placeholders_and_walk() -> None:
    expr = parse_condition("@1_exit@=0&(stdout~@2_STDOUT@|v@1_exit@=x)&contains:@3_stderr@")
    assert placeholders(expr) == {(1, "exit"), (2, "stdout"), (3, "stderr")}
    assert sum(isinstance(n, Ref) for n in walk(expr)) == 4
    assert placeholders(parse_condition("exit_0")) == frozenset()


def test_parse_is_cached() -> None:
    assert parse_condition("exit_0&stdout~cached") is parse_condition("exit_0&stdout~cached")


def test_error_is_an_exception_with_fields() -> None:
    err = ConditionError("bad", 3, "fix it")
    assert (err.message, err.column, err.hint) == ("bad", 3, "fix it")
    assert "column 3" in str(err)


def test_word_operators_in_a_value_are_text() -> None:
    """Only the left operand is checked: a value may say anything."""
    assert parse_condition("stdout=a and b") == cmp(StreamValue("stdout"), "=", "a and b")
    assert parse_condition("stdout~not found") == out(("not found",))


@pytest.mark.parametrize("text, col, hint", [
    ("min_success=x", 13, "a number of sub-tasks, e.g. min_success=2"),
    ("min_success=2.5", 13, "a number of sub-tasks, e.g. min_success=2"),
    ("stdout_count>", 14, "a number of lines, e.g. stdout_count>2"),
])
def test_counts_must_be_whole_numbers_with_a_fitting_hint(text, col, hint):
    from tasker.syntax.condition import ConditionError, parse_block_condition

    with pytest.raises(ConditionError) as info:
        parse_block_condition(text)
    assert (info.value.message, info.value.column, info.value.hint) == (
        "expected a whole number", col, hint)


def test_an_unclosed_parenthesis_hint_does_not_count_columns():
    from tasker.syntax.condition import ConditionError, parse_condition

    with pytest.raises(ConditionError) as info:
        parse_condition("exit_0&(stdout~x")
    assert info.value.column == 8 and info.value.hint == "close the '(' or remove it"


@pytest.mark.parametrize("text", ["stdout_count=abc", "stdout_count~3", "stderr_count!~x",
                                  'stdout_count="3"'])
def test_a_count_that_is_not_a_whole_number_is_never_true(text):
    """HEAD accepts these (II.8.2 rule 5) and they are false at run time."""
    from tasker.syntax.condition import format_condition, parse_condition

    expr = parse_condition(text)
    assert isinstance(expr, LineCount) and expr.count is None
    assert format_condition(expr) == text and parse_condition(format_condition(expr)) == expr


def test_a_lone_quote_kept_as_written_does_not_pair_with_a_printed_quote() -> None:
    """`stdout_count!='` keeps its lone quote as written; the value printed after it must
    not open with a `'` that the lexer would pair with it when the text is read back."""
    expr = parse_condition('stdout_count!=\'&stdout!~"\\""')
    assert parse_condition(format_condition(expr)) == expr
