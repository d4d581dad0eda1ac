"""Evaluating conditions: every atom, the one comparison rule (C10) and unresolved placeholders."""

from __future__ import annotations

from typing import Dict, Optional

import pytest

from tasker.engine.evaluate import Current, compare, convert, evaluate, evaluate_block
from tasker.syntax.condition import parse_block_condition, parse_condition

# Stored results, as tasker.engine.variables renders them (trailing newlines removed).
RESULTS: Dict[int, Dict[str, str]] = {
    0: {"stdout": "42", "stderr": "", "success": "True", "exit": "0", "exit_code": "0"},
    1: {"stdout": "ok&exit_1|x=y~z", "stderr": "warn", "success": "False", "exit": "3",
        "exit_code": "3", "hostname": "web1", "duration": "1.250"},
    2: {"stdout": "3.0", "success": "True", "exit": "0", "success_count": "2",
        "failed_count": "1", "total_count": "3"},
    4: {"success": " true "},
}


def lookup(task_id: int, field: str) -> Optional[str]:
    """Lookup over RESULTS: None when the task never ran."""
    fields = RESULTS.get(task_id)
    return None if fields is None else fields.get(field)


C = Current

CASES = [
    # (condition, current values, expected)
    # exit tests
    ("exit_0", C(0), True),
    ("exit_0", C(1), False),
    ("exit_-1", C(-1), True),
    ("exit_124", C(124), True),
    ("exit_not_0", C(3), True),
    ("exit_not_0", C(0), False),
    # success: the task's result when known, else exit code 0
    ("success", C(0), True),
    ("success", C(1), False),
    ("success", C(0, success=False), False),
    ("SUCCESS", C(1, success=True), True),
    ("true", C(1), True),
    ("FALSE", C(0), False),
    # emptiness: both streams strip all whitespace (C11)
    ("stdout~", C(stdout="  \n"), True),
    ("stdout~", C(stdout="x\n"), False),
    ("stderr~", C(stderr=" \n\t"), True),
    ("stderr~", C(stderr="oops"), False),
    ("stdout!~", C(stdout="x"), True),
    ("stderr!~", C(stderr="\n"), False),
    ('stdout~""', C(stdout=""), True),
    # substring: plain, case-sensitive, trailing newlines removed
    ("stdout~ready", C(stdout="system ready\n"), True),
    ("stdout~Ready", C(stdout="system ready\n"), False),
    ("STDOUT~ready", C(stdout="system ready\n"), True),
    ("stdout!~error", C(stdout="all fine"), True),
    ("stdout!~fine", C(stdout="all fine"), False),
    ("stderr~warn", C(stdout="warn", stderr=""), False),
    ('stdout~"rows = 0"', C(stdout="rows = 0 found"), True),
    ("stdout~a.c", C(stdout="abc"), False),  # no regex
    ('stdout~"Test 1 PASSED', C(stdout="Test 1 PASSED\n"), True),  # lone quote tolerated
    ("stdout~foo (bar)", C(stdout="foo (bar) baz"), True),
    ('stdout~" x"', C(stdout="a x"), True),
    ('stdout~" x"', C(stdout="ax"), False),
    ("stdout~@0_stdout@", C(stdout="answer 42"), True),
    ("stdout~@7_stdout@", C(stdout="x"), False),
    ("stdout~@7_stdout@", C(stdout="literally @7_stdout@"), True),
    # line counts: 0 if blank, else lines of the stripped output
    ("stdout_count=0", C(stdout=""), True),
    ("stdout_count=0", C(stdout="  \n\n"), True),
    ("stdout_count=2", C(stdout="a\nb\n"), True),
    ("stdout_count=2", C(stdout="\n a\nb \n\n"), True),
    ("stdout_count<3", C(stdout="a\nb\nc"), False),
    ("stdout_count>=3", C(stdout="a\nb\nc"), True),
    ("stdout_count>2", C(stdout="a\nb\nc"), True),
    ("stdout_count=abc", C(stdout="abc"), False),  # not a count: never true (HEAD)
    ("stdout_count~1", C(stdout="a"), False),
    ("!stdout_count=x", C(stdout=""), True),
    ("stderr_count!=1", C(stderr="x"), False),
    ("stderr_count<=1", C(stderr=""), True),
    # legacy substring on stdout
    ("contains:foo", C(stdout="a foo b"), True),
    ("contains:foo", C(stdout="bar", stderr="foo"), False),
    ("not_contains:foo", C(stdout="bar"), True),
    # comparisons, one rule (C10)
    ("stdout=42", C(stdout="42\n"), True),
    ("@0_stdout@=42", C(), True),
    ("stdout=042", C(stdout="42"), True),
    ("stdout=42.0", C(stdout="42"), True),
    ("1.0=1", C(), True),
    ("1.5>1", C(), True),
    ("@2_stdout@=3", C(), True),
    ("stdout>50", C(stdout="75\n"), True),
    ("(stdout>50)&(stdout<100)", C(stdout="75"), True),
    ("(stdout>50)&(stdout<100)", C(stdout="100"), False),
    ("stdout>50", C(stdout="abc"), False),
    ("stdout<=abc", C(stdout="abc"), False),
    ("abc>=abc", C(), False),
    ("stdout=abc", C(stdout="abc"), True),
    ("stdout!=abd", C(stdout="abc"), True),
    ("stdout=Status: OK (100%)", C(stdout="Status: OK (100%)\n"), True),
    ("stdout=hello world", C(stdout="  hello world \n"), True),
    ("stdout=", C(stdout="\n"), True),
    ("@0_stderr@=", C(), True),
    ("@0_success@=true", C(), True),
    ("@0_success@=True", C(), True),
    ("@0_success@=TRUE", C(), True),
    ("@0_success@=false", C(), False),
    ("@0_success@!=false", C(), True),
    ("@1_success@=false", C(), True),
    ("@0_success@=1", C(), True),  # a boolean counts as 1/0 against a number
    ("True=1", C(), True),
    ("false=0", C(), True),
    ("true>0", C(), True),
    ("@0_success@=yes", C(), False),
    ("@1_hostname@=web1", C(), True),
    ("@1_duration@>1.2", C(), True),
    ("@2_total_count@=3", C(), True),
    ("@2_success_count@>@2_failed_count@", C(), True),
    # exit code as an operand (C12)
    ("exit=0", C(0), True),
    ("exit=0", C(1), False),
    ("exit!=0", C(2), True),
    ("exit<5", C(3), True),
    ("exit>=2", C(2), True),
    ("exit_code=0", C(0), True),
    ("exit_code=0", C(1), False),
    ("EXIT_CODE!=0", C(-15), True),
    ("exit~2", C(12), True),
    # substring comparisons on the string forms
    ("@0_stdout@~4", C(), True),
    ("@0_stdout@!~4", C(), False),
    ("@1_stdout@~'exit_1|x'", C(), True),
    # stdout:DELIM,IDX (SPEC II.4.5 table)
    ("stdout:comma,1=b", C(stdout="a,b,c\n"), True),
    ("stdout:space,2=gamma", C(stdout="alpha beta  gamma\n"), True),
    ("stdout:whitespace,1>5", C(stdout="x\t7"), True),
    ("stdout:pipe,0=a", C(stdout="a|b"), True),
    ("stdout:=,1=v", C(stdout="k=v\n"), True),
    ("stdout:comma,9=a,b", C(stdout="a,b"), True),  # out of range: the whole output
    ("stderr:colon,1~bad", C(stderr="E:bad thing"), True),
    # templates mixing text and placeholders
    ("@0_stdout@-suffix=42-suffix", C(), True),
    ("v@1_exit@=v3", C(), True),
    # task outputs never change the structure (C9)
    ("@1_stdout@=ok", C(), False),
    ("@1_stdout@=ok&exit_1|x=y~z", C(1), False),
    ("@1_stdout@='ok&exit_1|x=y~z'", C(), True),
    # unresolved placeholders are their literal text (II.4.2)
    ("@7_exit@!=0", C(), True),
    ("@7_exit@=0", C(), False),
    ("@7_exit@>0", C(), False),
    ("@7_stdout@~x", C(), False),
    ("@7_stdout@=@7_stdout@", C(), True),
    ("@7_success@=true", C(), False),
    # a placeholder alone: true when it renders "true"
    ("@0_success@", C(), True),
    ("@1_success@", C(), False),
    ("@4_success@", C(), True),
    ("@7_success@", C(), False),
    ("@OK_COND@", C(), False),
    # boolean structure with real precedence
    ("exit_1|exit_0&stdout~zzz", C(0, stdout="alpha"), False),
    ("exit_1&stdout~zzz|stdout~alpha", C(0, stdout="alpha"), True),
    ("exit_0&(stdout~ok|stderr~)", C(0, stdout="nope", stderr=""), True),
    ("exit_0&(stdout~ok|stderr~)", C(0, stdout="nope", stderr="err"), False),
    ("!exit_0", C(1), True),
    ("!(exit_0|exit_1)", C(1), False),
    ("!!exit_0", C(0), True),
    ("!stdout~x&exit_0", C(0, stdout="y"), True),
    # a quote never closed: dropped in a pattern, a false comparison (II.3.2)
    ('stdout~"abc', C(0, stdout="xabcx"), True),
    ('stdout="abc', C(0, stdout="abc"), False),
    ('stdout!="abc', C(0, stdout="zzz"), False),
    ('@0_stdout@~"42', C(), False),
    # `~` compares the converted string forms: true is True, as @N_success@ stores it
    ("@0_success@~true", C(), True),
    ("@1_success@!~TRUE", C(), True),
    # keywords in any case; every comparison for line counts (compatibility notes)
    ("EXIT_0", C(0), True),
    ("stdout_count>=2", C(0, stdout="a\nb\n"), True),
    ("stdout_count<=1", C(0, stdout="a\nb"), False),
    ("stdout_count!=2", C(0, stdout="a\nb"), False),
]


@pytest.mark.parametrize("text,current,expected", CASES)
def test_evaluate(text: str, current: Current, expected: bool) -> None:
    assert evaluate(parse_condition(text), current, lookup) is expected


BLOCK_CASES = [
    # (condition, successful, failed, expected)
    ("all_success", 3, 0, True),
    ("all_success", 2, 1, False),
    ("all_success", 0, 0, False),  # no results: false
    ("any_success", 1, 2, True),
    ("any_success", 0, 3, False),
    ("majority_success", 2, 2, False),  # strictly more than half
    ("majority_success", 3, 2, True),
    ("min_success=2", 2, 5, True),
    ("min_success=2", 1, 0, False),
    ("max_success=1", 1, 3, True),
    ("max_success=1", 2, 0, False),
    ("min_failed=1", 3, 0, False),
    ("min_failed=1", 3, 1, True),
    ("max_failed=0", 3, 0, True),
    ("max_failed=0", 2, 1, False),
    ("always", 1, 0, True),
    ("always", 0, 0, False),
    ("never", 3, 0, False),
    ("min_success=1&@0_success@=true", 1, 0, True),
    ("min_success=1&@1_success@=true", 1, 0, False),
    ("never|exit_0", 0, 1, True),
]


@pytest.mark.parametrize("text,s,f,expected", BLOCK_CASES)
def test_evaluate_block(text: str, s: int, f: int, expected: bool) -> None:
    assert evaluate_block(parse_block_condition(text), s, f, Current(), lookup) is expected


def test_block_forms_are_false_outside_blocks() -> None:
    assert evaluate(parse_block_condition("always"), Current(), lookup) is False


def test_evaluate_block_reads_current_for_plain_conditions() -> None:
    expr = parse_block_condition("exit_0&stdout~done")
    assert evaluate_block(expr, 0, 0, Current(0, "done"), lookup) is True
    assert evaluate_block(expr, 0, 0, Current(1, "done"), lookup) is False


@pytest.mark.parametrize("text,value", [
    (" true ", True), ("FALSE", False), ("42", 42), ("-7", -7), ("+3", 3), ("1.5", 1.5),
    ("1.", 1.0), (".5", 0.5), ("1e5", "1e5"), ("nan", "nan"), ("1_000", "1_000"),
    ("abc", "abc"), ("", ""), ("٣", "٣"),
])
def test_convert(text: str, value) -> None:
    result = convert(text)
    assert result == value and type(result) is type(value)


@pytest.mark.parametrize("left,op,right,expected", [
    ("42\n", "=", "42", True), ("42", "<", "100", True), ("9", ">", "10", False),
    ("abc", "<", "abd", False), ("True", "=", "1", True), ("False", "<", "1", True),
    ("x", "!=", "y", True), (" a ", "=", "a", True), ("hello", "~", "ell", True),
    ("hello", "!~", "ell", False), ("1.0", "~", "1.0", True), ("2", ">=", "2.0", True),
    ("True", "=", "yes", False), ("1" * 5000, "=", "1" * 5000, True),
])
def test_compare(left: str, op: str, right: str, expected: bool) -> None:
    assert compare(left, op, right) is expected
